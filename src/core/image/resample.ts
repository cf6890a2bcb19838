import type { RgbImage } from './types.ts';

/*
 * PIL's BICUBIC resize (libImaging/Resample.c, ImagingResample with the default box), written by
 * hand because no JS library reproduces it bit for bit. What must match exactly:
 * - precompute_coeffs: scale = (in1 - in0) / outSize with the box in C floats; when downscaling
 *   the filter is stretched (support = 2 × scale, antialiasing); window bounds rounded with
 *   (int)(x + 0.5); weights from the a = -0.5 cubic, normalised by their sum, in doubles;
 * - normalize_coeffs_8bpc: weights to fixed point with PRECISION_BITS = 32 - 8 - 2 = 22,
 *   (int)(±0.5 + w × 2^22);
 * - sums start at 1 << 21 (rounding) and are clipped to 0..255 after >> 22;
 * - two passes, horizontal first, each skipped when that side keeps its size; the intermediate
 *   image is 8-bit (clipped), and only the rows the vertical pass reads are computed.
 * JavaScript doubles are IEEE binary64 like C's, and the expressions keep C's evaluation order,
 * so the weights are the same to the last bit. Integer sums stay below 2^31 as in C.
 *
 * Extra here: only a window of the output is computed (the center crop), which gives the same
 * pixels because every output pixel depends only on its own coefficients.
 */

const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
/** Where PIL's fixed-point sums start (rounding): 1 << 21. */
export const HALF = 1 << (PRECISION_BITS - 1);
const BICUBIC_SUPPORT = 2.0;

function bicubic(x: number): number {
  // a = -0.5, as `#define a -0.5` expands in Resample.c.
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((-0.5 + 2.0) * x - (-0.5 + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * -0.5;
  return 0.0;
}

/** Fixed-point weights for output positions first .. first+count-1 of a resize inSize → outSize. */
export interface Coefficients {
  readonly ksize: number;
  /** Per output position: first input index, number of inputs. */
  readonly bounds: Int32Array;
  /** Per output position: ksize weights (fixed point, 22 fractional bits). */
  readonly weights: Int32Array;
}

export function precomputeCoefficients(inSize: number, outSize: number, first: number, count: number): Coefficients {
  // The box is (0, inSize) in C floats; Math.fround mirrors that for sizes beyond 2^24.
  const in0 = 0;
  const in1 = Math.fround(inSize);
  const scale = Math.fround(in1 - in0) / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = BICUBIC_SUPPORT * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const ss = 1.0 / filterscale;
  const bounds = new Int32Array(count * 2);
  const weights = new Int32Array(count * ksize);
  const k = new Float64Array(ksize);
  for (let i = 0; i < count; i++) {
    const xx = first + i;
    const center = in0 + (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    const base = i * ksize;
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0.0 ? k[x]! / ww : k[x]!;
      weights[base + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[i * 2] = xmin;
    bounds[i * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

/** A fixed-point sum to its 8-bit value, clipped as PIL does. */
export const clip8 = (s: number): number => {
  const v = s >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
};

/** A rectangle of the (virtual) resized image. */
export interface Window {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/**
 * How an upright image is read from stored pixels: upright (x, y) is stored pixel
 * `base + x * dx + y * dy` (in pixels). {@link orientedLayout} gives it for an EXIF orientation.
 */
export interface PixelLayout {
  readonly base: number;
  readonly dx: number;
  readonly dy: number;
}

/**
 * The layout of PIL's `ImageOps.exif_transpose` for a stored `width` × `height` image:
 * 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270 (90° clockwise),
 * 7 TRANSVERSE, 8 ROTATE_90. Pure pixel moves, so resizing through it is exact.
 */
export function orientedLayout(width: number, height: number, orientation: number): PixelLayout {
  const w = width;
  const h = height;
  switch (orientation) {
    case 2: return { base: w - 1, dx: -1, dy: w };
    case 3: return { base: w * h - 1, dx: -1, dy: -w };
    case 4: return { base: (h - 1) * w, dx: 1, dy: -w };
    case 5: return { base: 0, dx: w, dy: 1 }; // out(x, y) = in(y, x)
    case 6: return { base: (h - 1) * w, dx: -w, dy: 1 }; // out(x, y) = in(y, h-1-x)
    case 7: return { base: w * h - 1, dx: -w, dy: -1 }; // out(x, y) = in(w-1-y, h-1-x)
    case 8: return { base: w - 1, dx: w, dy: -1 }; // out(x, y) = in(w-1-y, x)
    default: return { base: 0, dx: 1, dy: w };
  }
}

/**
 * PIL's `img.resize((outWidth, outHeight), Image.BICUBIC)` for an RGB image, or only `window`
 * of it (which must lie inside the output).
 */
export function resizeBicubic(
  img: RgbImage,
  outWidth: number,
  outHeight: number,
  window: Window = { left: 0, top: 0, width: outWidth, height: outHeight },
): RgbImage {
  return resizeBicubicFrom(img.data, img.width, img.height, { base: 0, dx: 1, dy: img.width }, outWidth, outHeight, window);
}

/**
 * {@link resizeBicubic} of the upright `inW` × `inH` image read from `src` through `layout`
 * (e.g. a decoder's buffer in its stored orientation): the same pixels as rotating first, without
 * the rotated copy. `src` is only read, so it may be a view of a codec's wasm memory.
 */
export function resizeBicubicFrom(
  src: Uint8Array,
  inW: number,
  inH: number,
  layout: PixelLayout,
  outWidth: number,
  outHeight: number,
  window: Window = { left: 0, top: 0, width: outWidth, height: outHeight },
): RgbImage {
  const needH = outWidth !== inW;
  const needV = outHeight !== inH;
  const vert = needV ? precomputeCoefficients(inH, outHeight, window.top, window.height) : null;
  // Input rows the vertical pass reads (ybox_first .. ybox_last in Resample.c).
  const rowFirst = vert ? vert.bounds[0]! : window.top;
  const rowEnd = vert ? vert.bounds[(window.height - 1) * 2]! + vert.bounds[(window.height - 1) * 2 + 1]! : window.top + window.height;

  // Horizontal pass (or a plain copy of the window's columns) into a temp image of window.width
  // columns × the rows needed; upright images without a horizontal pass are read in place.
  let tmp: Uint8Array;
  let tmpStride: number; // bytes per row
  let tmpCol: number; // byte offset of the window's first column in a tmp row
  let tmpRow0: number; // input row held in tmp's row 0
  const upright = layout.base === 0 && layout.dx === 1 && layout.dy === inW;
  if (needH || !upright) {
    const hc = needH ? precomputeCoefficients(inW, outWidth, window.left, window.width) : identityCoefficients(window.left, window.width);
    tmp = horizontalPass(src, layout, rowFirst, rowEnd - rowFirst, hc, window.width);
    tmpStride = window.width * 3;
    tmpCol = 0;
    tmpRow0 = rowFirst;
  } else {
    tmp = src;
    tmpStride = inW * 3;
    tmpCol = window.left * 3;
    tmpRow0 = 0;
  }

  const out = new Uint8Array(window.width * window.height * 3);
  if (vert) {
    verticalPass(tmp, tmpStride, tmpCol, tmpRow0, vert, window.width, window.height, out);
  } else {
    const rowBytes = window.width * 3;
    for (let y = 0; y < window.height; y++) {
      const from = (window.top + y - tmpRow0) * tmpStride + tmpCol;
      out.set(tmp.subarray(from, from + rowBytes), y * rowBytes);
    }
  }
  return { width: window.width, height: window.height, data: out };
}

/** Weight 1.0 on one input each: a horizontal "pass" that only gathers columns `first..first+count-1`. */
export function identityCoefficients(first: number, count: number): Coefficients {
  const bounds = new Int32Array(count * 2);
  for (let i = 0; i < count; i++) {
    bounds[i * 2] = first + i;
    bounds[i * 2 + 1] = 1;
  }
  return { ksize: 1, bounds, weights: new Int32Array(count).fill(ONE) };
}

function horizontalPass(src: Uint8Array, layout: PixelLayout, row0: number, rows: number, c: Coefficients, outW: number): Uint8Array {
  const { ksize, bounds, weights } = c;
  const { base, dx, dy } = layout;
  const step = dx * 3;
  const out = new Uint8Array(outW * rows * 3);
  let o = 0;
  for (let y = 0; y < rows; y++) {
    const rowBase = base + (row0 + y) * dy;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2]!;
      const n = bounds[xx * 2 + 1]!;
      const kb = xx * ksize;
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      let p = (rowBase + xmin * dx) * 3;
      for (let x = 0; x < n; x++, p += step) {
        const w = weights[kb + x]!;
        s0 += src[p]! * w;
        s1 += src[p + 1]! * w;
        s2 += src[p + 2]! * w;
      }
      out[o++] = clip8(s0);
      out[o++] = clip8(s1);
      out[o++] = clip8(s2);
    }
  }
  return out;
}

/**
 * Sums row by row into an accumulator (cache friendly); integer sums are exact in doubles, so
 * the order does not change the result against Resample.c's column-wise loop.
 */
export function verticalPass(
  src: Uint8Array,
  stride: number,
  col: number,
  row0: number,
  c: Coefficients,
  outW: number,
  outH: number,
  out: Uint8Array,
): void {
  const { ksize, bounds, weights } = c;
  const n = outW * 3;
  const acc = new Float64Array(n);
  for (let yy = 0; yy < outH; yy++) {
    acc.fill(HALF);
    const ymin = bounds[yy * 2]!;
    const count = bounds[yy * 2 + 1]!;
    const kb = yy * ksize;
    for (let y = 0; y < count; y++) {
      const w = weights[kb + y]!;
      if (w === 0) continue;
      const base = (ymin + y - row0) * stride + col;
      for (let i = 0; i < n; i++) acc[i]! += src[base + i]! * w;
    }
    const o = yy * n;
    for (let i = 0; i < n; i++) out[o + i] = clip8(acc[i]!);
  }
}
