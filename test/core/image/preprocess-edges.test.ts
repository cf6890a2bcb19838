// Edges of CLIP preprocessing that the PIL parity tests do not reach: input validation, padding
// smaller images as torchvision does, EXIF orientation without a rotated copy, normalisation of a crop.
import { describe, expect, it } from 'vitest';
import { applyOrientation } from '../../../src/core/image/orient.ts';
import {
  CLIP_PREPROCESS,
  type ClipPreprocessConfig,
  clipNormalize,
  clipPreprocessBatch,
  resizeAndCenterCrop,
  resizeAndCenterCropOriented,
  resizedSize,
} from '../../../src/core/image/preprocess.ts';
import type { RgbImage } from '../../../src/core/image/types.ts';

const image = (width: number, height: number, seed = 1): RgbImage => ({
  width,
  height,
  data: Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37 + seed * 11) % 256),
});
const cfg = (o: Partial<ClipPreprocessConfig>): ClipPreprocessConfig => ({ ...CLIP_PREPROCESS, ...o });
const bad = (fn: () => unknown, message: RegExp) => expect(fn).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringMatching(message) }));

describe('preprocess validation', () => {
  it('refuses images whose bytes are not width × height × 3', () => {
    for (const img of [{ width: 0, height: 2, data: new Uint8Array(0) }, { width: 2, height: 0, data: new Uint8Array(0) }, { ...image(2, 2), data: new Uint8Array(11) }, { ...image(2, 2), data: new Uint8Array(13) }]) {
      bad(() => resizeAndCenterCrop(img, CLIP_PREPROCESS), /^RgbImage must hold width × height × 3 bytes \(\d+×\d+, \d+ bytes\)$/);
    }
    bad(() => resizeAndCenterCropOriented({ ...image(2, 2), data: new Uint8Array(11) }, 1, CLIP_PREPROCESS), /RgbImage must hold/);
    bad(() => resizeAndCenterCropOriented({ width: 0, height: 2, data: new Uint8Array(0) }, 1, CLIP_PREPROCESS), /RgbImage must hold/);
    bad(() => resizeAndCenterCropOriented({ width: 2, height: 0, data: new Uint8Array(0) }, 1, CLIP_PREPROCESS), /RgbImage must hold/);
    // One pixel wide or high is still an image: a 1 × 1 grey pixel becomes a 224 × 224 grey crop.
    const one = resizeAndCenterCropOriented({ width: 1, height: 1, data: Uint8Array.of(90, 90, 90) }, 1, CLIP_PREPROCESS);
    expect([one.width, one.height, one.data.length]).toEqual([224, 224, 224 * 224 * 3]);
    expect(one.data.every((v) => v === 90)).toBe(true);
    expect(resizeAndCenterCropOriented(image(1, 3), 1, CLIP_PREPROCESS).width).toBe(224);
  });

  it('pads with zeros, as torchvision center_crop does, when the crop is larger than the resized image on one side only', () => {
    // shortestEdge 4, crop 6 × 6: a landscape 8 × 4 image stays 8 × 4, so the crop takes 6 of its
    // columns and pads (6 − 4) / 2 = 1 zero row above and 1 below; a portrait 4 × 8 one pads columns.
    const c = cfg({ shortestEdge: 4, cropWidth: 6, cropHeight: 6 });
    const bright = (w: number, h: number): RgbImage => ({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(200) });
    const px = (img: RgbImage, x: number, y: number) => img.data[(y * img.width + x) * 3]!;
    const land = resizeAndCenterCropOriented(bright(8, 4), 1, c);
    expect([land.width, land.height]).toEqual([6, 6]);
    for (let x = 0; x < 6; x++) expect([px(land, x, 0), px(land, x, 1), px(land, x, 4), px(land, x, 5)]).toEqual([0, 200, 200, 0]);
    const port = resizeAndCenterCropOriented(bright(4, 8), 1, c);
    expect([port.width, port.height]).toEqual([6, 6]);
    for (let y = 0; y < 6; y++) expect([px(port, 0, y), px(port, 1, y), px(port, 4, y), px(port, 5, y)]).toEqual([0, 200, 200, 0]);
    // A longer buffer (a codec's wasm memory view) is fine for the oriented path, which only reads it.
    expect(resizeAndCenterCropOriented({ ...image(4, 4), data: new Uint8Array(4 * 4 * 3 + 7) }, 1, cfg({ shortestEdge: 4, cropWidth: 4, cropHeight: 4 })).width).toBe(4);
  });

  it('refuses a configuration that is not positive integers and 3 finite means / 3 positive stds', () => {
    for (const [k, v] of [['shortestEdge', 0], ['cropHeight', 1.5], ['cropWidth', -1]] as const) {
      bad(() => resizeAndCenterCrop(image(4, 4), cfg({ [k]: v })), new RegExp(`^preprocess ${k} must be a positive integer, got ${v}$`));
    }
    const stats = /^preprocess mean must be 3 finite numbers and std 3 positive numbers$/;
    bad(() => resizeAndCenterCrop(image(4, 4), cfg({ mean: [0.5, 0.5] as never })), stats);
    bad(() => resizeAndCenterCrop(image(4, 4), cfg({ std: [0.5, 0.5] as never })), stats);
    bad(() => resizeAndCenterCrop(image(4, 4), cfg({ std: [0.5, 0, 0.5] })), stats);
    bad(() => resizeAndCenterCrop(image(4, 4), cfg({ mean: [0.5, NaN, 0.5] })), stats);
    bad(() => clipNormalize(image(224, 224), cfg({ mean: [Infinity, 0, 0] })), stats);
  });

  it('refuses an aspect ratio whose resized long side would pass 2^24 pixels', () => {
    expect(() => resizeAndCenterCrop(image(1, 80_000), CLIP_PREPROCESS)).toThrow(
      expect.objectContaining({ code: 'IMAGE_TOO_LARGE', message: 'Image is 1×80000: its aspect ratio is too extreme (resizing gives 224×17920000, over 16777216 pixels a side)' }),
    );
    expect(() => resizeAndCenterCrop(image(80_000, 1), CLIP_PREPROCESS)).toThrow(expect.objectContaining({ code: 'IMAGE_TOO_LARGE' }));
  });

  it('clipPreprocessBatch needs at least one image', () => {
    bad(() => clipPreprocessBatch([]), /^clipPreprocessBatch needs at least one image$/);
  });
});

describe('torchvision-style padding of an image smaller than the crop', () => {
  it('pads (crop − side) // 2 before and the rest after, with zeros, around the resized image', () => {
    const small = image(4, 4);
    const resized = resizeAndCenterCrop(small, cfg({ shortestEdge: 4, cropWidth: 4, cropHeight: 4 }));
    const padded = resizeAndCenterCrop(small, cfg({ shortestEdge: 4, cropWidth: 7, cropHeight: 6 }));
    expect([padded.width, padded.height]).toEqual([7, 6]);
    for (let y = 0; y < 6; y++) for (let x = 0; x < 7; x++) for (let c = 0; c < 3; c++) {
      const inside = x >= 1 && x < 5 && y >= 1 && y < 5; // pad left (7−4)//2 = 1, top (6−4)//2 = 1
      const want = inside ? resized.data[((y - 1) * 4 + (x - 1)) * 3 + c] : 0;
      expect(padded.data[(y * 7 + x) * 3 + c], `(${x}, ${y})`).toBe(want);
    }
  });
});

describe('EXIF orientation', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8] as const)('orientation %i: cropping through the orientation equals cropping the rotated copy', (o) => {
    const img = image(9, 5, o);
    const c = cfg({ shortestEdge: 6, cropWidth: 5, cropHeight: 4 });
    expect(resizeAndCenterCropOriented(img, o, c)).toEqual(resizeAndCenterCrop(applyOrientation(img, o), c));
  });

  it('an orientation outside 1–8 is read as 1', () => {
    const img = image(9, 5);
    const c = cfg({ shortestEdge: 6, cropWidth: 5, cropHeight: 4 });
    for (const o of [0, 9]) expect(resizeAndCenterCropOriented(img, o, c)).toEqual(resizeAndCenterCrop(img, c));
  });

  it('resizedSize keeps a square square and makes the shortest side the edge', () => {
    expect(resizedSize(300, 300, 224)).toEqual({ width: 224, height: 224 });
    expect(resizedSize(300, 200, 224)).toEqual({ width: 336, height: 224 });
    expect(resizedSize(200, 301, 224)).toEqual({ width: 224, height: 337 });
  });
});

describe('clipNormalize', () => {
  const c = cfg({ shortestEdge: 2, cropWidth: 3, cropHeight: 2, mean: [0.5, 0.25, 0.125], std: [0.5, 0.25, 2] });

  it('is (v / 255 − mean) / std per channel, planar CHW, in float32 steps', () => {
    const crop = image(3, 2);
    const t = clipNormalize(crop, c);
    expect(t).toHaveLength(18);
    const f = Math.fround;
    for (let ch = 0; ch < 3; ch++) for (let i = 0; i < 6; i++) {
      const v = crop.data[i * 3 + ch]!;
      expect(t[ch * 6 + i]).toBe(f(f(f(v / 255) - f(c.mean[ch]!)) / f(c.std[ch]!)));
    }
  });

  it('refuses a crop of another size or byte count', () => {
    for (const crop of [image(2, 2), image(3, 3), { ...image(3, 2), data: new Uint8Array(17) }]) {
      bad(() => clipNormalize(crop, c), /^clipNormalize needs a 3×2 RGB crop, got \d×\d$/);
    }
  });
});
