import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CLIP_PREPROCESS,
  centerCropOrigin,
  clipPreprocess,
  clipPreprocessBatch,
  resizeAndCenterCrop,
  resizedSize,
} from '../../../src/core/image/preprocess.ts';
import { resizeBicubic } from '../../../src/core/image/resample.ts';
import type { RgbImage } from '../../../src/core/image/types.ts';
import { hugeImage } from './huge-image.ts';
import { COMMITTED_REFS, configOf, loadIndex, readRefPng } from './refs.ts';

const index = loadIndex(COMMITTED_REFS)!;
const clipRef = (name: string) => {
  const e = index.entries.find((x) => x.name === name)!;
  const c = e.crops.find((x) => x.config === 'clip224')!;
  return readRefPng(path.join(COMMITTED_REFS, c.file));
};

/** (ref / 255 - mean) / std in doubles, as a reader of the reference would write it. */
function expectNormalised(t: Float32Array, ref: RgbImage, mean: readonly number[], std: readonly number[]): void {
  const n = ref.width * ref.height;
  expect(t.length).toBe(3 * n);
  let worst = 0;
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      const want = (ref.data[i * 3 + c]! / 255 - mean[c]!) / std[c]!;
      worst = Math.max(worst, Math.abs(t[c * n + i]! - want));
    }
  }
  expect(worst).toBeLessThan(1e-6);
}

describe('normalisation', () => {
  it('clipPreprocess = (PIL crop / 255 - mean) / std, planar RGB, within 1e-6', () => {
    const img = hugeImage();
    const t = clipPreprocess(img);
    expectNormalised(t, clipRef('huge-4000x3000'), CLIP_PREPROCESS.mean, CLIP_PREPROCESS.std);
  });

  it('matches torchvision float32 arithmetic exactly (ToTensor div, Normalize sub + div)', () => {
    const f = Math.fround;
    const img: RgbImage = { width: 1, height: 1, data: new Uint8Array([0, 128, 255]) };
    const cfg = { ...CLIP_PREPROCESS, shortestEdge: 1, cropHeight: 1, cropWidth: 1 };
    const t = clipPreprocess(img, cfg);
    [0, 128, 255].forEach((v, c) => {
      expect(t[c]).toBe(f(f(f(v / 255) - f(cfg.mean[c]!)) / f(cfg.std[c]!)));
    });
  });

  it('batch stacks [N, 3, H, W] in order, equal to single calls', () => {
    const a: RgbImage = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => i * 13) };
    const b: RgbImage = { width: 2, height: 5, data: Uint8Array.from({ length: 30 }, (_, i) => 255 - i * 7) };
    const cfg = { ...CLIP_PREPROCESS, shortestEdge: 8, cropHeight: 6, cropWidth: 7 };
    const { data, dims } = clipPreprocessBatch([a, b, a], cfg);
    expect(dims).toEqual([3, 3, 6, 7]);
    const one = 3 * 6 * 7;
    expect(data.subarray(0, one)).toEqual(clipPreprocess(a, cfg));
    expect(data.subarray(one, 2 * one)).toEqual(clipPreprocess(b, cfg));
    expect(data.subarray(2 * one)).toEqual(clipPreprocess(a, cfg));
    expect(() => clipPreprocessBatch([], cfg)).toThrow(/at least one/);
  });

  it('padding (crop larger than the resized image) is zero before normalisation, as torchvision pads', () => {
    const img: RgbImage = { width: 2, height: 2, data: new Uint8Array(12).fill(200) };
    const cfg = { ...CLIP_PREPROCESS, shortestEdge: 2, cropHeight: 4, cropWidth: 3 };
    const crop = resizeAndCenterCrop(img, cfg);
    // pad top (4-2)//2 = 1, bottom 1; left (3-2)//2 = 0, right 1
    const px = (x: number, y: number) => crop.data[(y * 3 + x) * 3]!;
    expect([0, 1, 2].map((x) => px(x, 0))).toEqual([0, 0, 0]);
    expect([0, 1, 2].map((x) => px(x, 1))).toEqual([200, 200, 0]);
    expect([0, 1, 2].map((x) => px(x, 3))).toEqual([0, 0, 0]);
  });
});

describe('geometry (torchvision)', () => {
  it('resizedSize: shortest side to size, the other truncated', () => {
    expect(resizedSize(640, 480, 224)).toEqual({ width: 298, height: 224 }); // int(224 * 640 / 480) = 298
    expect(resizedSize(480, 640, 224)).toEqual({ width: 224, height: 298 });
    expect(resizedSize(225, 224, 224)).toEqual({ width: 225, height: 224 });
    expect(resizedSize(223, 300, 224)).toEqual({ width: 224, height: 301 }); // 301.345...
    expect(resizedSize(1000, 1, 224)).toEqual({ width: 224000, height: 224 });
    expect(resizedSize(300, 300, 224)).toEqual({ width: 224, height: 224 });
  });

  it('centerCropOrigin rounds halves to even, as Python round()', () => {
    expect(centerCropOrigin(225, 224, 224, 224)).toEqual({ left: 0, top: 0 }); // round(0.5) = 0
    expect(centerCropOrigin(227, 224, 224, 224)).toEqual({ left: 2, top: 0 }); // round(1.5) = 2
    expect(centerCropOrigin(229, 224, 224, 224)).toEqual({ left: 2, top: 0 }); // round(2.5) = 2
    expect(centerCropOrigin(298, 224, 224, 224)).toEqual({ left: 37, top: 0 });
    expect(centerCropOrigin(224, 301, 224, 224)).toEqual({ left: 0, top: 38 }); // round(38.5) = 38
    expect(centerCropOrigin(2, 2, 3, 4)).toEqual({ left: 0, top: -1 });
  });

  it('every committed ref agrees with our resized size', () => {
    for (const e of index.entries) {
      for (const c of e.crops) {
        const s = resizedSize(e.width, e.height, c.shortestEdge);
        expect([s.width, s.height], `${e.name} ${c.config}`).toEqual(c.resized);
        const crop = resizeAndCenterCrop({ width: 1, height: 1, data: new Uint8Array(3) }, configOf(c));
        expect([crop.width, crop.height]).toEqual([c.cropWidth, c.cropHeight]);
      }
    }
  });

  it('refuses bad configs and extreme aspect ratios', () => {
    const img: RgbImage = { width: 2, height: 1, data: new Uint8Array(6) };
    expect(() => resizeAndCenterCrop(img, { ...CLIP_PREPROCESS, shortestEdge: 0 })).toThrow(/shortestEdge/);
    expect(() => resizeAndCenterCrop(img, { ...CLIP_PREPROCESS, std: [1, 0, 1] })).toThrow(/std/);
    expect(() => resizeAndCenterCrop({ width: 2, height: 2, data: new Uint8Array(5) }, CLIP_PREPROCESS)).toThrow(/width × height × 3/);
    const strip: RgbImage = { width: 100_000, height: 1, data: new Uint8Array(300_000) };
    expect(() => resizeAndCenterCrop(strip, CLIP_PREPROCESS)).toThrow(/aspect ratio is too extreme/);
  });
});

describe('resizeBicubic windows', () => {
  const img: RgbImage = { width: 9, height: 7, data: Uint8Array.from({ length: 9 * 7 * 3 }, (_, i) => (i * 97 + (i >> 3) * 31) & 255) };

  it('any window equals the same part of the full resize (up, down, one side only, same size)', () => {
    for (const [w, h] of [[20, 15], [4, 3], [9, 20], [30, 7], [9, 7], [1, 1]] as const) {
      const full = resizeBicubic(img, w, h);
      for (const win of [{ left: 0, top: 0, width: w, height: h }, { left: w >> 1, top: h >> 2, width: w - (w >> 1), height: Math.max(1, h >> 1) }]) {
        const part = resizeBicubic(img, w, h, win);
        for (let y = 0; y < win.height; y++) {
          const a = part.data.subarray(y * win.width * 3, (y + 1) * win.width * 3);
          const start = ((win.top + y) * w + win.left) * 3;
          expect(a, `${w}×${h} window ${JSON.stringify(win)} row ${y}`).toEqual(full.data.subarray(start, start + win.width * 3));
        }
      }
    }
    expect(resizeBicubic(img, 9, 7).data).toEqual(img.data); // same size: a copy, as PIL
  });
});
