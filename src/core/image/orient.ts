import type { ExifOrientation, RgbImage } from './types.ts';

/**
 * Applies an EXIF orientation the way PIL's `ImageOps.exif_transpose` does:
 * 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270 (90° clockwise),
 * 7 TRANSVERSE, 8 ROTATE_90 (90° counter-clockwise). Pure pixel moves, so exact.
 */
export function applyOrientation(img: RgbImage, orientation: ExifOrientation): RgbImage {
  if (orientation === 1) return img;
  const { width: w, height: h, data: src } = img;
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = new Uint8Array(src.length);
  // Source index of output (x, y) = base + x * dx + y * dy (in pixels).
  let base: number;
  let dx: number;
  let dy: number;
  switch (orientation) {
    case 2: [base, dx, dy] = [w - 1, -1, w]; break;
    case 3: [base, dx, dy] = [w * h - 1, -1, -w]; break;
    case 4: [base, dx, dy] = [(h - 1) * w, 1, -w]; break;
    case 5: [base, dx, dy] = [0, w, 1]; break; // out(x, y) = in(y, x)
    case 6: [base, dx, dy] = [(h - 1) * w, -w, 1]; break; // out(x, y) = in(y, h-1-x)
    case 7: [base, dx, dy] = [w * h - 1, -w, -1]; break; // out(x, y) = in(w-1-y, h-1-x)
    case 8: [base, dx, dy] = [w - 1, w, -1]; break; // out(x, y) = in(w-1-y, x)
  }
  let o = 0;
  for (let y = 0; y < oh; y++) {
    let s = base + y * dy;
    for (let x = 0; x < ow; x++, s += dx) {
      const p = s * 3;
      out[o++] = src[p]!;
      out[o++] = src[p + 1]!;
      out[o++] = src[p + 2]!;
    }
  }
  return { width: ow, height: oh, data: out };
}
