import { centerCropOrigin, type ClipPreprocessConfig, assertResizable } from './preprocess.ts';
import { type Coefficients, type Window, HALF, clip8, identityCoefficients, precomputeCoefficients, verticalPass } from './resample.ts';
import type { RgbImage } from './types.ts';

/*
 * CLIP's resize + center crop (PIL's two-pass bicubic, then torchvision's crop) fed one stored row
 * at a time, in the order a decoder produces them, through an EXIF orientation: the same pixels as
 * `resizeAndCenterCropOriented` on the whole image, without the whole image.
 *
 * Rows that are upright rows (orientations 1–4, flipped or not): each row's horizontal pass is done
 * as it arrives, and added into the accumulators of the output rows whose window contains it
 * (integer sums: the order of the additions cannot change them); an output row is written out and
 * dropped as soon as its last input row has arrived. Memory: a few output rows of crop width.
 *
 * Rows that are upright columns (5–8, the transposed ones: a phone photo taken upright is stored
 * sideways with orientation 6): the horizontal pass runs across rows, so an output column's sums are
 * kept for every upright row the crop reads while its window of columns arrives, then rounded to
 * 8 bits and put through the vertical pass at once. Rows in order keep a few columns open
 * (~4 × 4,000 rows × 3 int32 ≈ 200 KB for a 12 MP photo, against 36 MB for its pixels).
 *
 * The 8-bit rounding between the passes is PIL's, so the crop is the same to the last bit.
 */

export interface StreamingCrop {
  /** Stored row `y` (0-based, top to bottom as stored), `storedWidth` × 3 RGB bytes. Rows may come in any order, each once. */
  pushRow(y: number, row: Uint8Array): void;
  /** The crop, once every stored row the crop reads has been pushed (rows it does not read may be skipped). */
  finish(): RgbImage;
  /** Whether stored row `y` is read at all (a decoder may skip converting the others). */
  needsRow(y: number): boolean;
}

interface Geometry {
  /** Upright size. */
  readonly width: number;
  readonly height: number;
  /** The crop's window of the resized image. */
  readonly window: Window;
  /** Where the window lies in the crop (torchvision pads with zeros where the image is smaller than the crop). */
  readonly padLeft: number;
  readonly padTop: number;
  readonly hc: Coefficients;
  /** Null when the height keeps its size (then rows are copied). */
  readonly vc: Coefficients | null;
  /** Upright rows the vertical pass reads: [rowFirst, rowEnd). */
  readonly rowFirst: number;
  readonly rowEnd: number;
}

function geometry(width: number, height: number, config: ClipPreprocessConfig): Geometry {
  const size = assertResizable(width, height, config);
  const { cropWidth: cw, cropHeight: ch } = config;
  const { left, top } = centerCropOrigin(size.width, size.height, cw, ch);
  const x0 = Math.max(0, left);
  const y0 = Math.max(0, top);
  const window = { left: x0, top: y0, width: Math.min(size.width, left + cw) - x0, height: Math.min(size.height, top + ch) - y0 };
  const hc = size.width !== width ? precomputeCoefficients(width, size.width, window.left, window.width) : identityCoefficients(window.left, window.width);
  const vc = size.height !== height ? precomputeCoefficients(height, size.height, window.top, window.height) : null;
  const last = (window.height - 1) * 2;
  return {
    width,
    height,
    window,
    padLeft: x0 - left,
    padTop: y0 - top,
    hc,
    vc,
    rowFirst: vc ? vc.bounds[0]! : window.top,
    rowEnd: vc ? vc.bounds[last]! + vc.bounds[last + 1]! : window.top + window.height,
  };
}

/**
 * Bytes a streaming crop holds at its peak, rows arriving in order: the crop, and either a few open
 * output rows (float64 sums of crop width) or a few open output columns (int32 sums of the stored
 * width, for orientations 5–8), with room to spare.
 */
export function streamingCropBytes(storedWidth: number, orientation: number, config: ClipPreprocessConfig): number {
  const crop = config.cropWidth * config.cropHeight * 3;
  const open = orientation >= 5 && orientation <= 8 ? storedWidth * 3 * 4 * 8 + storedWidth * 3 : config.cropWidth * 3 * 8 * 8;
  return 2 * crop + open;
}

/** A streaming resize + center crop of a `storedWidth` × `storedHeight` image shown with EXIF `orientation`. */
export function createStreamingCrop(storedWidth: number, storedHeight: number, orientation: number, config: ClipPreprocessConfig): StreamingCrop {
  const transposed = orientation >= 5 && orientation <= 8;
  const g = transposed ? geometry(storedHeight, storedWidth, config) : geometry(storedWidth, storedHeight, config);
  const out = new Uint8Array(config.cropWidth * config.cropHeight * 3);
  const place = (wy: number, row: Uint8Array) => out.set(row, ((g.padTop + wy) * config.cropWidth + g.padLeft) * 3);
  const finishWith = (): RgbImage => ({ width: config.cropWidth, height: config.cropHeight, data: out });
  return transposed ? transposedCrop(g, storedWidth, orientation, place, finishWith) : uprightCrop(g, storedWidth, storedHeight, orientation, place, finishWith);
}

function uprightCrop(g: Geometry, sw: number, sh: number, orientation: number, place: (wy: number, row: Uint8Array) => void, finish: () => RgbImage): StreamingCrop {
  const flipY = orientation === 3 || orientation === 4;
  const mirror = orientation === 2 || orientation === 3;
  const uprightRow = (y: number) => (flipY ? sh - 1 - y : y);
  const { window, hc, vc, rowFirst, rowEnd } = g;
  const n = window.width * 3;
  // For each upright row the crop reads, the output rows it feeds (CSR: first index, count).
  const feeds = vc ? rowFeeds(vc, window.height, rowFirst, rowEnd) : null;
  const acc = new Map<number, { sum: Float64Array; left: number }>();
  // Finished rows' sums are reused for the next ones (a few are open at once: the filter's support),
  // and one output row buffer serves them all (place copies it): a 12 MP photo otherwise left ~1.4 MB
  // of arrays to the GC per decode.
  const spare: Float64Array[] = [];
  const done = new Uint8Array(n);
  let written = 0;
  const tmp = new Uint8Array(n);
  return {
    needsRow: (y) => {
      const u = uprightRow(y);
      return u >= rowFirst && u < rowEnd;
    },
    pushRow(y, row) {
      const u = uprightRow(y);
      if (u < rowFirst || u >= rowEnd) return;
      horizontalRow(row, mirror ? sw - 1 : 0, mirror ? -1 : 1, hc, window.width, tmp);
      if (!vc || !feeds) {
        place(u - window.top, tmp);
        written++;
        return;
      }
      const at = u - rowFirst;
      for (let f = feeds.offsets[at]!; f < feeds.offsets[at + 1]!; f++) {
        const j = feeds.rows[f]!;
        let a = acc.get(j);
        if (!a) acc.set(j, (a = { sum: (spare.pop() ?? new Float64Array(n)).fill(HALF), left: vc.bounds[j * 2 + 1]! }));
        const w = vc.weights[j * vc.ksize + (u - vc.bounds[j * 2]!)]!;
        if (w !== 0) for (let i = 0; i < n; i++) a.sum[i]! += tmp[i]! * w;
        if (--a.left === 0) {
          for (let i = 0; i < n; i++) done[i] = clip8(a.sum[i]!);
          place(j, done);
          acc.delete(j);
          spare.push(a.sum);
          written++;
        }
      }
    },
    finish() {
      if (written !== window.height) throw new Error(`streaming crop finished with ${written} of ${window.height} rows`);
      return finish();
    },
  };
}

/** Which output rows each input row in [rowFirst, rowEnd) contributes to, in CSR form. */
function rowFeeds(vc: Coefficients, outRows: number, rowFirst: number, rowEnd: number): { offsets: Int32Array; rows: Int32Array } {
  const counts = new Int32Array(rowEnd - rowFirst + 1);
  for (let j = 0; j < outRows; j++) for (let u = vc.bounds[j * 2]!; u < vc.bounds[j * 2]! + vc.bounds[j * 2 + 1]!; u++) counts[u - rowFirst + 1]!++;
  for (let i = 1; i < counts.length; i++) counts[i]! += counts[i - 1]!;
  const rows = new Int32Array(counts[counts.length - 1]!);
  const fill = counts.slice(0, -1);
  for (let j = 0; j < outRows; j++) for (let u = vc.bounds[j * 2]!; u < vc.bounds[j * 2]! + vc.bounds[j * 2 + 1]!; u++) rows[fill[u - rowFirst]!++] = j;
  return { offsets: counts, rows };
}

/** PIL's horizontal pass of one row read from `start` with step `dx` (pixels), into `out` (8-bit). */
function horizontalRow(row: Uint8Array, start: number, dx: number, c: Coefficients, outW: number, out: Uint8Array): void {
  const { ksize, bounds, weights } = c;
  const step = dx * 3;
  for (let xx = 0, o = 0; xx < outW; xx++) {
    const xmin = bounds[xx * 2]!;
    const count = bounds[xx * 2 + 1]!;
    const kb = xx * ksize;
    let s0 = HALF;
    let s1 = HALF;
    let s2 = HALF;
    let p = (start + xmin * dx) * 3;
    for (let x = 0; x < count; x++, p += step) {
      const w = weights[kb + x]!;
      s0 += row[p]! * w;
      s1 += row[p + 1]! * w;
      s2 += row[p + 2]! * w;
    }
    out[o++] = clip8(s0);
    out[o++] = clip8(s1);
    out[o++] = clip8(s2);
  }
}

function transposedCrop(g: Geometry, sw: number, orientation: number, place: (wy: number, row: Uint8Array) => void, finish: () => RgbImage): StreamingCrop {
  // Upright (x, y) is stored (sx, sy) with: x = sy (5, 8) or sh-1-sy (6, 7); y = sx (5, 6) or sw-1-sx (7, 8).
  const sh = g.width;
  const flipX = orientation === 6 || orientation === 7;
  const flipY = orientation === 7 || orientation === 8;
  const { window, hc, vc, rowFirst, rowEnd } = g;
  const rows = rowEnd - rowFirst;
  const n = window.width * 3;
  // Each output column's horizontal sums over the upright rows the crop reads, kept only while its
  // window of upright columns (stored rows) is arriving: rounded to 8 bits (PIL's intermediate) and
  // put through the vertical pass as soon as its last column arrived. Rows arriving in order keep
  // only the few columns whose windows overlap open.
  const feeds = columnFeeds(hc, window.width, sh);
  const reads = (c: number) => c >= 0 && c < feeds.count && feeds.offsets[c + 1]! > feeds.offsets[c]!;
  const open = new Map<number, { sum: Int32Array; left: number }>();
  const spare: Int32Array[] = []; // closed columns' sums, reused (as in uprightCrop)
  const crop = new Uint8Array(window.height * n);
  const column = new Uint8Array(rows * 3);
  const done = new Uint8Array(window.height * 3);
  let closed = 0;
  const close = (j: number, sum: Int32Array) => {
    for (let i = 0; i < column.length; i++) column[i] = clip8(sum[i]!);
    if (vc) verticalPass(column, 3, 0, rowFirst, vc, 1, window.height, done);
    else done.set(column.subarray((window.top - rowFirst) * 3, (window.top - rowFirst + window.height) * 3));
    for (let wy = 0; wy < window.height; wy++) crop.set(done.subarray(wy * 3, wy * 3 + 3), wy * n + j * 3);
    closed++;
  };
  return {
    needsRow: (y) => reads((flipX ? sh - 1 - y : y) - feeds.first),
    pushRow(y, row) {
      const x = flipX ? sh - 1 - y : y;
      const c = x - feeds.first;
      if (!reads(c)) return;
      for (let f = feeds.offsets[c]!; f < feeds.offsets[c + 1]!; f++) {
        const j = feeds.cols[f]!;
        let a = open.get(j);
        if (!a) open.set(j, (a = { sum: (spare.pop() ?? new Int32Array(rows * 3)).fill(HALF), left: hc.bounds[j * 2 + 1]! }));
        const w = hc.weights[j * hc.ksize + (x - hc.bounds[j * 2]!)]!;
        if (w !== 0) {
          const sum = a.sum;
          for (let r = 0, s = 0; r < rows; r++, s += 3) {
            const uy = rowFirst + r;
            const p = (flipY ? sw - 1 - uy : uy) * 3;
            sum[s] = sum[s]! + row[p]! * w;
            sum[s + 1] = sum[s + 1]! + row[p + 1]! * w;
            sum[s + 2] = sum[s + 2]! + row[p + 2]! * w;
          }
        }
        if (--a.left === 0) {
          open.delete(j);
          close(j, a.sum);
          spare.push(a.sum);
        }
      }
    },
    finish() {
      if (closed !== window.width) throw new Error(`streaming crop finished with ${closed} of ${window.width} columns`);
      for (let wy = 0; wy < window.height; wy++) place(wy, crop.subarray(wy * n, (wy + 1) * n));
      return finish();
    },
  };
}

/**
 * For each upright column the crop reads (`first` .. `first + count - 1`), the output columns whose
 * window holds it (CSR). Only those columns: a tall stored image shown sideways has millions of
 * upright columns, and the crop's reservation does not count one entry per column.
 */
function columnFeeds(hc: Coefficients, outCols: number, width: number): { first: number; count: number; offsets: Int32Array; cols: Int32Array } {
  let first = width;
  let end = 0;
  for (let j = 0; j < outCols; j++) {
    first = Math.min(first, hc.bounds[j * 2]!);
    end = Math.max(end, hc.bounds[j * 2]! + hc.bounds[j * 2 + 1]!);
  }
  const count = Math.max(0, end - first);
  const counts = new Int32Array(count + 1);
  for (let j = 0; j < outCols; j++) for (let x = hc.bounds[j * 2]!; x < hc.bounds[j * 2]! + hc.bounds[j * 2 + 1]!; x++) counts[x - first + 1]!++;
  for (let i = 1; i < counts.length; i++) counts[i]! += counts[i - 1]!;
  const cols = new Int32Array(counts[count]!);
  const fill = counts.slice(0, -1);
  for (let j = 0; j < outCols; j++) for (let x = hc.bounds[j * 2]!; x < hc.bounds[j * 2]! + hc.bounds[j * 2 + 1]!; x++) cols[fill[x - first]!++] = j;
  return { first, count, offsets: counts, cols };
}
