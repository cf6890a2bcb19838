// The streaming resize + crop (src/core/image/resample-stream.ts) against the whole-image one,
// which test/core/image/parity.test.ts checks against PIL: the same bytes for every EXIF
// orientation, downscales and upscales, crops larger than the image (torchvision's zero padding),
// and rows pushed in any order.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resizeAndCenterCropOriented, type ClipPreprocessConfig, CLIP_PREPROCESS } from '../../../src/core/image/preprocess.ts';
import { createStreamingCrop } from '../../../src/core/image/resample-stream.ts';

function noise(w: number, h: number, seed: number): Uint8Array {
  const d = new Uint8Array(w * h * 3);
  let x = seed | 1;
  for (let i = 0; i < d.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    d[i] = x & 255;
  }
  return d;
}

const config = (shortestEdge: number, cropWidth: number, cropHeight: number): ClipPreprocessConfig => ({ ...CLIP_PREPROCESS, shortestEdge, cropWidth, cropHeight });

function streamed(data: Uint8Array, w: number, h: number, orientation: number, c: ClipPreprocessConfig, order: number[]): Uint8Array {
  const s = createStreamingCrop(w, h, orientation, c);
  for (const y of order) if (s.needsRow(y)) s.pushRow(y, data.subarray(y * w * 3, (y + 1) * w * 3));
  return s.finish().data;
}

describe('streaming resize + center crop', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('orientation %i: equals the whole-image path on a 640×427 photo-sized image', (orientation) => {
    const [w, h] = [640, 427];
    const data = noise(w, h, orientation);
    const want = resizeAndCenterCropOriented({ width: w, height: h, data }, orientation, CLIP_PREPROCESS).data;
    const rows = Array.from({ length: h }, (_, y) => y);
    expect(Buffer.from(streamed(data, w, h, orientation, CLIP_PREPROCESS, rows)).equals(Buffer.from(want))).toBe(true);
    expect(Buffer.from(streamed(data, w, h, orientation, CLIP_PREPROCESS, rows.reverse())).equals(Buffer.from(want))).toBe(true);
  });

  it('equals the whole-image path for random sizes, crops and orientations (upscales and padded crops included)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 48 }),
        fc.integer({ min: 1, max: 48 }),
        fc.integer(),
        (w, h, orientation, edge, cw, ch, seed) => {
          const data = noise(w, h, seed);
          const c = config(edge, cw, ch);
          const want = resizeAndCenterCropOriented({ width: w, height: h, data }, orientation, c).data;
          const got = streamed(data, w, h, orientation, c, Array.from({ length: h }, (_, y) => y));
          return Buffer.from(got).equals(Buffer.from(want));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('ignores rows the crop does not read when a decoder pushes every row anyway', () => {
    for (const orientation of [1, 3, 6]) {
      const [w, h] = [120, 700]; // tall: most rows are outside the crop's window
      const data = noise(w, h, orientation);
      const want = resizeAndCenterCropOriented({ width: w, height: h, data }, orientation, config(24, 24, 24)).data;
      const s = createStreamingCrop(w, h, orientation, config(24, 24, 24));
      for (let y = 0; y < h; y++) s.pushRow(y, data.subarray(y * w * 3, (y + 1) * w * 3));
      expect(Buffer.from(s.finish().data).equals(Buffer.from(want)), `orientation ${orientation}`).toBe(true);
    }
  });

  it('equals the whole-image path when the resize keeps the size (shortest side = the edge) and the crop is smaller, every orientation', () => {
    for (let orientation = 1; orientation <= 8; orientation++) {
      for (const [w, h] of [[30, 50], [50, 30], [30, 30]] as const) {
        const data = noise(w, h, orientation * 7 + w);
        const c = config(30, 20, 16);
        const want = resizeAndCenterCropOriented({ width: w, height: h, data }, orientation, c).data;
        const got = streamed(data, w, h, orientation, c, Array.from({ length: h }, (_, y) => y));
        expect(Buffer.from(got).equals(Buffer.from(want)), `${w}×${h} orientation ${orientation}`).toBe(true);
      }
    }
  });

  it('reads only the rows the crop needs (a tall image keeps most of its rows out)', () => {
    const s = createStreamingCrop(300, 3000, 1, CLIP_PREPROCESS);
    const needed = Array.from({ length: 3000 }, (_, y) => s.needsRow(y)).filter(Boolean).length;
    expect(needed).toBeLessThan(400);
    expect(needed).toBeGreaterThan(300);
  });

  it('refuses to finish before every row it reads arrived', () => {
    const s = createStreamingCrop(50, 50, 1, config(20, 20, 20));
    s.pushRow(0, noise(50, 1, 1));
    expect(() => s.finish()).toThrow(/streaming crop finished with \d+ of 20 rows/);
    expect(() => createStreamingCrop(50, 50, 6, config(20, 20, 20)).finish()).toThrow(/streaming crop finished with 0 of 20 columns/);
    const t = createStreamingCrop(50, 50, 6, config(20, 20, 20));
    t.pushRow(10, noise(50, 1, 1)); // one stored row: no output column has all of its window yet
    expect(() => t.finish()).toThrow(/streaming crop finished with 0 of 20 columns/);
  });
});
