// libjpeg-turbo decoding (wasm.jpegTurbo, the Workers default): exact path = PIL's pixels, resized
// straight from wasm memory through the EXIF orientation; DCT-scaled path only when the decode
// budget demands it; clear errors when nothing fits or the data is bad.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createImageDecoder } from '../../../src/core/image/decoder.ts';
import { readJpegHeader } from '../../../src/core/image/jpeg-header.ts';
import { jpegForClipBytes } from '../../../src/core/image/decode-cost.ts';
import { applyOrientation } from '../../../src/core/image/orient.ts';
import { CLIP_PREPROCESS, resizeAndCenterCrop, resizeAndCenterCropOriented } from '../../../src/core/image/preprocess.ts';
import type { ExifOrientation } from '../../../src/core/image/types.ts';
import { nodeImageCodecs } from '../../../src/runtime/fs/codecs.ts';
import { repoRoot } from '../../helpers/shared-data.ts';
import { COMMITTED_REFS, configOf, diff, loadIndex, readRefPng, sha256 } from './refs.ts';

const index = loadIndex(COMMITTED_REFS)!;
const jpegs = index.entries.filter((e) => e.source?.endsWith('.jpg'));
const turbo = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }) });
const read = (name: string) => new Uint8Array(readFileSync(path.join(repoRoot, 'test/fixtures/pil/inputs', name)));
const small = { ...CLIP_PREPROCESS, shortestEdge: 64, cropWidth: 64, cropHeight: 64 };

describe('libjpeg-turbo, exact path: PIL parity', () => {
  it.each(jpegs.map((e) => [e.name, e] as const))('%s: decode() and decodeForClip() give PIL\'s pixels', async (_, entry) => {
    const bytes = read(path.basename(entry.source!));
    const img = await turbo.decode(bytes);
    expect(sha256(img.data), 'decoded RGB differs from PIL').toBe(entry.decodedSha256);
    for (const c of entry.crops) {
      const r = await turbo.decodeForClip(bytes, configOf(c));
      expect(r.decode).toBe('exact');
      expect([r.width, r.height]).toEqual([entry.width, entry.height]);
      // The refs are PIL's resize + crop of the upright image: equal to the last value.
      expect(diff(r.crop, readRefPng(path.join(COMMITTED_REFS, c.file))).maxDiff).toBe(0);
    }
  });
});

describe('resize + crop through an EXIF orientation', () => {
  it('equals rotating first, for every orientation and size', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom<ExifOrientation>(1, 2, 3, 4, 5, 6, 7, 8),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (w, h, o, edge, seed) => {
          const data = new Uint8Array(w * h * 3);
          let s = seed;
          for (let i = 0; i < data.length; i++) data[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
          const img = { width: w, height: h, data };
          const cfg = { ...CLIP_PREPROCESS, shortestEdge: edge, cropWidth: Math.max(1, edge - 3), cropHeight: edge + 2 };
          const want = resizeAndCenterCrop(applyOrientation(img, o), cfg);
          expect(resizeAndCenterCropOriented(img, o, cfg)).toEqual(want);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('decode budget and DCT scaling', () => {
  const bytes = read('baseline-420.jpg'); // 300×200
  const header = readJpegHeader(bytes);
  const exact = jpegForClipBytes(header, 1, small);
  const half = jpegForClipBytes(header, 2, small);

  it('takes the exact path while it fits the budget', async () => {
    const d = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), decodeBudgetBytes: exact, jpegScaling: true });
    expect((await d.decodeForClip(bytes, small)).decode).toBe('exact');
  });

  it('scales 1/2 when only that fits, keeping the shortest side ≥ the model input; close to the exact crop', async () => {
    const d = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), decodeBudgetBytes: half, jpegScaling: true });
    const r = await d.decodeForClip(bytes, small);
    expect(r.decode).toBe('dct-1/2');
    expect([r.width, r.height, r.crop.width, r.crop.height]).toEqual([300, 200, 64, 64]);
    const ref = await turbo.decodeForClip(bytes, small);
    const dd = diff(r.crop, ref.crop);
    let sum = 0;
    for (let i = 0; i < r.crop.data.length; i++) sum += Math.abs(r.crop.data[i]! - ref.crop.data[i]!);
    expect(sum / dd.values).toBeLessThan(3); // mean |Δ| in 8-bit levels (measured ~1)
  });

  it('refuses with IMAGE_TOO_LARGE when scaling is off, or when even 1/8 would shrink below the model input', async () => {
    const off = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), decodeBudgetBytes: half });
    await expect(off.decodeForClip(bytes, small)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE', message: expect.stringMatching(/decode budget/) });
    const on = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), decodeBudgetBytes: half, jpegScaling: true });
    await expect(on.decodeForClip(bytes, CLIP_PREPROCESS)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
  });

  it('counts a progressive JPEG\'s whole-image coefficients, which scaling cannot avoid', async () => {
    const prog = read('progressive.jpg');
    const h = readJpegHeader(prog);
    expect(h.progressive).toBe(true);
    expect(h.coefficientBytes).toBeGreaterThanOrEqual(300 * 200 * 2); // ≥ the luma plane's coefficients
    expect(readJpegHeader(bytes).coefficientBytes).toBe(0);
    const d = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), decodeBudgetBytes: h.coefficientBytes, jpegScaling: true });
    await expect(d.decodeForClip(prog, small)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE', message: expect.stringMatching(/coefficients/) });
  });

  it('a budget that follows the model is asked before each decode; concurrent decodes that do not fit together run one at a time on one kept codec', async () => {
    let budget = exact;
    const asked: number[] = [];
    const d = createImageDecoder({
      wasm: nodeImageCodecs({ jpegTurbo: true }),
      jpegScaling: true,
      decodeBudgetBytes: () => {
        asked.push(budget);
        return budget;
      },
    });
    const started = [0, 1, 2, 3].map(() => d.decodeForClip(bytes, small));
    // One decode holds its reservation (its estimate is the whole budget); the other three wait.
    expect(d.memory()).toEqual({ reservedBytes: exact, waiting: 3 });
    const runs = await Promise.all(started);
    expect(runs.map((r) => r.decode)).toEqual(['exact', 'exact', 'exact', 'exact']);
    expect(asked.length).toBeGreaterThanOrEqual(4); // before each decode, and when a waiting one is granted
    expect(d.memory()).toEqual({ reservedBytes: 0, waiting: 0 });
    const codec = d.jpegCodecMemoryBytes();
    budget = half; // the room left shrank (e.g. a bigger model): the next decode scales
    expect((await d.decodeForClip(bytes, small)).decode).toBe('dct-1/2');
    expect(d.jpegCodecMemoryBytes()).toBe(codec); // the same instance, kept: its memory is a high-water mark within the budget
    budget = 0;
    await expect(d.decodeForClip(bytes, small)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE', message: expect.stringMatching(/decode budget of 0\.0 MB/) });
  });

  it('PNG and WebP are checked against the budget too (no scaled path)', async () => {
    const d = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), decodeBudgetBytes: 4_000, jpegScaling: true });
    await expect(d.decodeForClip(read('rgb8.png'), small)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE', message: expect.stringMatching(/PNG of ~/) });
    await expect(d.decodeForClip(read('lossy.webp'), small)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE', message: expect.stringMatching(/WEBP of ~/) });
  });
});

describe('bad data', () => {
  it('a libjpeg error becomes CORRUPT_IMAGE and the next image decodes', async () => {
    const good = read('baseline-420.jpg');
    const h = readJpegHeader(good);
    // The scan names a component the frame does not have: libjpeg's error_exit ("Invalid component ID").
    const bad = good.slice();
    bad[h.scanOffset + 5] = 0x7f;
    const r = turbo.decodeForClip(bad, small);
    await expect(r).rejects.toMatchObject({ code: 'CORRUPT_IMAGE' });
    expect((await turbo.decodeForClip(good, small)).decode).toBe('exact');
  });

  it('a truncated JPEG is refused before decoding, as with mozjpeg', async () => {
    const good = read('baseline-420.jpg');
    await expect(turbo.decodeForClip(good.subarray(0, good.length - 200), small)).rejects.toMatchObject({ code: 'CORRUPT_IMAGE' });
  });
});
