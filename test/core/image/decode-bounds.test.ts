// Issue 23: a decode's cost follows the bytes sent. Each hostile image is refused from its header
// (or marker / chunk walk) with a 4xx code and the reason, before any pixel is decoded: the
// decoders get no codec wasm here, so reaching a codec would fail differently.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { blankPng, claimingWebp, fragmentedPng, noisyPng, repeatedScanJpeg } from '../../../bench/lib/hostile-images.ts';
import { createImageDecoder, DEFAULT_MAX_JPEG_SCANS } from '../../../src/core/image/decoder.ts';
import { CLIP_PREPROCESS } from '../../../src/core/image/preprocess.ts';
import { nodeImageCodecs } from '../../../src/runtime/fs/codecs.ts';
import { repoRoot } from '../../helpers/shared-data.ts';

const input = (name: string) => new Uint8Array(readFileSync(path.join(repoRoot, 'test/fixtures/pil/inputs', name)));
const noCodecs = createImageDecoder({ wasm: {} });
const codecs = createImageDecoder({ wasm: nodeImageCodecs() });

describe('JPEG scan limit', () => {
  const progressive = input('progressive.jpg'); // 10 scans

  it('refuses a progressive JPEG that repeats a scan past the limit, from the markers alone', async () => {
    const bomb = repeatedScanJpeg(progressive, DEFAULT_MAX_JPEG_SCANS); // 110 scans
    for (const call of [() => noCodecs.decodeForClip(bomb, CLIP_PREPROCESS), () => noCodecs.decode(bomb)]) {
      await expect(call()).rejects.toMatchObject({
        code: 'UNSUPPORTED_IMAGE',
        message: expect.stringMatching(/JPEG has 110 scans, over the limit of 100/),
        details: { scans: 110, maxJpegScans: 100 },
      });
    }
  });

  it('decodes up to the limit, with mozjpeg and with libjpeg-turbo (the repeated scans are decoded, as PIL does)', async () => {
    const atLimit = repeatedScanJpeg(progressive, DEFAULT_MAX_JPEG_SCANS - 10);
    const turbo = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }) });
    expect((await codecs.decodeForClip(atLimit, CLIP_PREPROCESS)).decode).toBe('exact');
    expect((await turbo.decodeForClip(atLimit, CLIP_PREPROCESS)).decode).toBe('exact');
  });

  it('is an option (maxJpegScans), validated', async () => {
    const strict = createImageDecoder({ wasm: {}, maxJpegScans: 9 });
    await expect(strict.decode(progressive)).rejects.toMatchObject({ code: 'UNSUPPORTED_IMAGE', details: { scans: 10, maxJpegScans: 9 } });
    expect(() => createImageDecoder({ maxJpegScans: 0 })).toThrow(/maxJpegScans must be a positive integer/);
  });
});

describe('pixels per byte sent', () => {
  it('refuses a 38-byte lossless WebP that claims 6324×6324 (a 160 MB decode) before libwebp runs', async () => {
    const bomb = claimingWebp(6324, 6324);
    expect(bomb.length).toBe(38);
    await expect(noCodecs.decodeForClip(bomb, CLIP_PREPROCESS)).rejects.toMatchObject({
      code: 'IMAGE_TOO_LARGE',
      message: expect.stringMatching(/claims 6324×6324 .* in 38 bytes: over 1,024 pixels per byte/),
    });
  });

  it('lets a blank image of up to 4 MP through whatever its size, and any image that carries a byte per 1,024 pixels', async () => {
    const blank4mp = blankPng(2000, 2000); // ~12 KB: 330 pixels per byte
    const r = await codecs.decodeForClip(blank4mp, CLIP_PREPROCESS);
    expect(r.decode).toBe('exact');
    expect(r.crop.data.every((v) => v === 0)).toBe(true);
    const tiny = claimingWebp(1000, 1000); // 1 MP in 38 bytes: under the 4 MP floor, so it reaches libwebp (and is corrupt)
    await expect(codecs.decode(tiny)).rejects.toMatchObject({ code: 'CORRUPT_IMAGE' });
  });

  it('is an option (maxPixelsPerByte)', async () => {
    const loose = createImageDecoder({ wasm: {}, maxPixelsPerByte: 10_000_000 });
    // Past the ratio check, the missing codec is what stops it: the check was the only thing in the way.
    await expect(loose.decode(claimingWebp(6324, 6324))).rejects.toMatchObject({ code: 'UNSUPPORTED_IMAGE', message: expect.stringMatching(/no codec wasm/) });
  });
});

describe('PNG chunk count', () => {
  it('refuses a PNG cut into one-byte IDAT chunks before inflating anything', async () => {
    const bomb = fragmentedPng(noisyPng(200, 200), 1); // 120 KB of data in ~120,000 chunks
    expect((await codecs.decode(fragmentedPng(bomb, 1 << 20))).width).toBe(200); // the same data in one chunk decodes
    const chunks = (bomb.length - 8) / 13; // nearly all chunks are 13 bytes
    expect(chunks).toBeGreaterThan(1024 + bomb.length / 1024);
    await expect(noCodecs.decodeForClip(bomb, CLIP_PREPROCESS)).rejects.toMatchObject({
      code: 'UNSUPPORTED_IMAGE',
      message: expect.stringMatching(/PNG is split into more than [\d,]+ chunks, the most a [\d,]+-byte PNG may have \(1024 plus one per KiB\)/),
    });
  });

  it('decodes a PNG in libpng\'s usual 8 KiB chunks, and one with 1,000 small chunks', async () => {
    const noisy = noisyPng(300, 400); // ~360 KB
    expect((await codecs.decode(fragmentedPng(noisy, 8192))).width).toBe(300);
    expect((await codecs.decode(fragmentedPng(noisy, Math.ceil(noisy.length / 1000)))).height).toBe(400);
  });
});

describe('aspect ratio', () => {
  it('refuses a 1×1,000,000 PNG from its header (its resize would be 224×224,000,000), not after decoding it', async () => {
    const tall = blankPng(1, 1_000_000); // the probe was 1×40,000,000 (bench:hostile-images); this one builds fast
    await expect(noCodecs.decodeForClip(tall, CLIP_PREPROCESS)).rejects.toMatchObject({
      code: 'IMAGE_TOO_LARGE',
      message: expect.stringMatching(/aspect ratio is too extreme/),
    });
  });
});
