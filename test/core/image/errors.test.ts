import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClipEdgeError, type ClipEdgeErrorCode } from '../../../src/core/errors.ts';
import { createImageDecoder } from '../../../src/core/image/decoder.ts';
import { nodeImageCodecs } from '../../../src/runtime/fs/codecs.ts';
import { repoRoot } from '../../helpers/shared-data.ts';
import { SIGNATURE, chunk, concat, ihdr, pngWithScanlines } from './png-builder.ts';

const decoder = createImageDecoder({ wasm: nodeImageCodecs() });
const input = (name: string) => new Uint8Array(readFileSync(path.join(repoRoot, 'test/fixtures/pil/inputs', name)));
const bad = (name: string) => new Uint8Array(readFileSync(path.join(repoRoot, 'test/fixtures/pil/bad', name)));

async function failure(bytes: Uint8Array, d = decoder): Promise<ClipEdgeError> {
  try {
    await d.decode(bytes);
  } catch (e) {
    expect(e, `not a ClipEdgeError: ${String(e)}`).toBeInstanceOf(ClipEdgeError);
    return e as ClipEdgeError;
  }
  throw new Error('decode succeeded');
}

async function expectCode(bytes: Uint8Array, code: ClipEdgeErrorCode, message?: RegExp): Promise<ClipEdgeError> {
  const e = await failure(bytes);
  expect(e.code, e.message).toBe(code);
  if (message) expect(e.message).toMatch(message);
  return e;
}

/** A deterministic byte stream (xorshift32). */
function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 255;
  }
  return out;
}

describe('input that is not an image', () => {
  it('0 bytes → BAD_INPUT', async () => {
    await expectCode(new Uint8Array(0), 'BAD_INPUT', /empty/);
  });

  it('random bytes → UNSUPPORTED_IMAGE naming the supported formats', async () => {
    for (const seed of [1, 2, 3]) await expectCode(randomBytes(1000, seed), 'UNSUPPORTED_IMAGE', /JPEG, PNG, WebP/);
  });

  it('a GIF is named as such', async () => {
    const e = await expectCode(bad('still.gif'), 'UNSUPPORTED_IMAGE', /^GIF images are not supported; supported formats: JPEG, PNG, WebP$/);
    expect(e.details).toEqual({ detected: 'GIF' });
  });

  it('format comes from magic bytes: a JPEG magic with garbage → CORRUPT_IMAGE', async () => {
    await expectCode(concat(new Uint8Array([0xff, 0xd8, 0xff]), randomBytes(500, 9)), 'CORRUPT_IMAGE', /JPEG/);
  });
});

describe('truncated files → CORRUPT_IMAGE', () => {
  const cases: Array<[string, number[]]> = [
    ['baseline-420.jpg', [3, 4, 20, 200, 0.5, 0.9, -2]],
    ['progressive.jpg', [300, 0.3, 0.8, -2]],
    ['rgb8.png', [8, 16, 30, 33, 0.5, -12, -1]],
    ['palette8-trns.png', [0.5, -13]],
    ['lossy.webp', [12, 16, 24, 0.5, -1]],
    ['lossless.webp', [20, 0.5, -1]],
    ['lossy-alpha.webp', [40, 0.7]],
  ];
  for (const [name, cuts] of cases) {
    it(`${name} cut at ${cuts.join(', ')}`, async () => {
      const whole = input(name);
      for (const cut of cuts) {
        const n = cut < 0 ? whole.length + cut : cut < 1 ? Math.floor(whole.length * cut) : cut;
        const e = await expectCode(whole.subarray(0, n), 'CORRUPT_IMAGE');
        expect(e.message).toMatch(/^Corrupt (JPEG|PNG|WebP) image: /);
      }
    });
  }

  it('a JPEG missing only its final EOI marker is refused too', async () => {
    const whole = input('baseline-420.jpg');
    await expectCode(whole.subarray(0, whole.length - 2), 'CORRUPT_IMAGE', /end-of-image marker/);
  });
});

describe('size limits, checked from the header before decoding', () => {
  // No image data follows these headers: had the decoder started, the error would be CORRUPT_IMAGE.
  it('PNG IHDR claiming 100000×100000 → IMAGE_TOO_LARGE', async () => {
    const e = await expectCode(concat(SIGNATURE, ihdr(100_000, 100_000)), 'IMAGE_TOO_LARGE');
    expect(e.message).toBe('Image is 100000×100000 (10,000,000,000 pixels), over the limit of 40,000,000 pixels');
    expect(e.details).toEqual({ width: 100_000, height: 100_000, pixels: 10_000_000_000, maxPixels: 40_000_000 });
  });

  it('JPEG SOF claiming 65000×65000 → IMAGE_TOO_LARGE', async () => {
    const sof = [0xff, 0xc0, 0, 17, 8, 0xfd, 0xe8, 0xfd, 0xe8, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
    const sos = [0xff, 0xda, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0];
    await expectCode(new Uint8Array([0xff, 0xd8, ...sof, ...sos]), 'IMAGE_TOO_LARGE', /65000×65000/);
  });

  it('WebP VP8L header claiming 16384×16384 → IMAGE_TOO_LARGE', async () => {
    const bits = (16383 | (16383 << 14)) >>> 0;
    const payload = [0x2f, bits & 255, (bits >>> 8) & 255, (bits >>> 16) & 255, bits >>> 24];
    const riff = new Uint8Array([...'RIFF'].map((c) => c.charCodeAt(0)).concat([18, 0, 0, 0], [...'WEBPVP8L'].map((c) => c.charCodeAt(0)), [5, 0, 0, 0], payload, [0]));
    await expectCode(riff, 'IMAGE_TOO_LARGE', /16384×16384/);
  });

  it('the limit is configurable', async () => {
    const small = createImageDecoder({ wasm: nodeImageCodecs(), maxPixels: 1000 });
    const e = await failure(input('rgb8.png'), small);
    expect(e.code).toBe('IMAGE_TOO_LARGE');
    expect(e.message).toBe('Image is 40×30 (1,200 pixels), over the limit of 1,000 pixels');
    expect(small.readHeader.bind(small, input('rgb8.png'))).toThrow(/over the limit/);
    expect(() => createImageDecoder({ maxPixels: 0 })).toThrow(/maxPixels/);
  });

  it('0×N headers → CORRUPT_IMAGE', async () => {
    await expectCode(concat(SIGNATURE, ihdr(0, 10), chunk('IEND')), 'CORRUPT_IMAGE', /0×10/);
    const sof = [0xff, 0xc0, 0, 11, 8, 0, 10, 0, 0, 1, 1, 0x11, 0];
    await expectCode(new Uint8Array([0xff, 0xd8, ...sof, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0, 0xff, 0xd9]), 'CORRUPT_IMAGE', /0 pixels wide/);
  });
});

describe('damaged PNG', () => {
  const raw = new Uint8Array(3 * (1 + 2 * 3)); // 2×3 RGB, filter 0

  it('bad CRC → CORRUPT_IMAGE', async () => {
    const png = pngWithScanlines(2, 3, raw);
    const idatCrc = png.length - 12 - 1; // last byte of IDAT's CRC
    png[idatCrc]! ^= 0xff;
    await expectCode(png, 'CORRUPT_IMAGE', /CRC/);
  });

  it('zlib data that is not zlib → CORRUPT_IMAGE', async () => {
    const png = concat(SIGNATURE, ihdr(2, 3), chunk('IDAT', new Uint8Array([0x78, 0x9c, 0xff, 0xff, 0xff, 0x00, 0x11])), chunk('IEND'));
    await expectCode(png, 'CORRUPT_IMAGE', /zlib|data/);
  });

  it('a complete zlib stream that holds too few scanlines → CORRUPT_IMAGE', async () => {
    await expectCode(pngWithScanlines(2, 3, raw.subarray(0, 10)), 'CORRUPT_IMAGE', /ends after 10 of 21 bytes/);
  });

  it('a zlib bomb (1×1 pixel, 20 MB of scanlines) is stopped early → CORRUPT_IMAGE', async () => {
    await expectCode(pngWithScanlines(1, 1, new Uint8Array(20_000_000)), 'CORRUPT_IMAGE', /inflates to more than/);
  });

  it('a bad row filter type → CORRUPT_IMAGE', async () => {
    const rows = raw.slice();
    rows[7] = 9;
    await expectCode(pngWithScanlines(2, 3, rows), 'CORRUPT_IMAGE');
  });

  it('no IDAT, palette without PLTE, bad colour type / depth → CORRUPT_IMAGE', async () => {
    await expectCode(concat(SIGNATURE, ihdr(2, 3), chunk('IEND')), 'CORRUPT_IMAGE', /IDAT/);
    await expectCode(concat(SIGNATURE, ihdr(2, 3, 8, 3), chunk('IDAT', new Uint8Array(8)), chunk('IEND')), 'CORRUPT_IMAGE', /PLTE/);
    await expectCode(concat(SIGNATURE, ihdr(2, 3, 8, 5), chunk('IEND')), 'CORRUPT_IMAGE', /colour type 5/);
    await expectCode(concat(SIGNATURE, ihdr(2, 3, 4, 2), chunk('IEND')), 'CORRUPT_IMAGE', /bit depth 4/);
  });
});

describe('valid files in formats we refuse', () => {
  it('CMYK JPEG → UNSUPPORTED_IMAGE (mozjpeg cannot convert CMYK to RGB)', async () => {
    await expectCode(bad('cmyk.jpg'), 'UNSUPPORTED_IMAGE', /CMYK/);
  });

  it('animated WebP → UNSUPPORTED_IMAGE', async () => {
    await expectCode(bad('animated.webp'), 'UNSUPPORTED_IMAGE', /Animated WebP/);
  });

  it('JPEG or WebP without their wasm → UNSUPPORTED_IMAGE that says so', async () => {
    const pngOnly = createImageDecoder();
    const e = await failure(input('baseline-420.jpg'), pngOnly);
    expect(e.code).toBe('UNSUPPORTED_IMAGE');
    expect(e.message).toMatch(/JPEG \(mozjpeg\) decoding is not available/);
    expect((await pngOnly.decode(input('rgb8.png'))).width).toBe(40);
  });
});

describe('damaged bytes never escape as anything but ClipEdgeError', () => {
  // Bit flips and cuts anywhere: each decode either succeeds or fails with a ClipEdgeError.
  for (const name of ['baseline-420.jpg', 'progressive.jpg', 'rgb8-adam7.png', 'grey2-adam7.png', 'palette4.png', 'lossy.webp', 'lossless-alpha.webp']) {
    it(name, async () => {
      const whole = input(name);
      const r = randomBytes(400, name.length * 7919);
      for (let i = 0; i < 40; i++) {
        const bytes = whole.slice(0, i % 4 === 3 ? 1 + ((r[i]! * whole.length) >> 8) : whole.length);
        for (let k = 0; k < 1 + (i % 3); k++) {
          const at = (((r[100 + i * 3 + k]! << 8) | r[200 + i]!) * 7) % bytes.length;
          bytes[at] = bytes[at]! ^ (1 << (r[300 + i]! & 7));
        }
        try {
          await decoder.decode(bytes);
        } catch (e) {
          expect(e, `mutation ${i}: ${String(e)}`).toBeInstanceOf(ClipEdgeError);
          expect(['CORRUPT_IMAGE', 'UNSUPPORTED_IMAGE', 'IMAGE_TOO_LARGE']).toContain((e as ClipEdgeError).code);
        }
      }
      // The decoder still works after all that (a failed codec instance is replaced).
      expect((await decoder.decode(whole)).data.length).toBeGreaterThan(0);
    });
  }
});
