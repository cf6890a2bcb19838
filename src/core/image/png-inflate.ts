import { corrupt } from './errors.ts';
import { pngChannels, type PngHeader } from './png-header.ts';

const ADAM7: ReadonlyArray<readonly [x0: number, y0: number, dx: number, dy: number]> = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** The Adam7 passes' sizes (empty passes skipped, as the PNG spec says). */
export function adam7Passes(width: number, height: number): Array<{ x0: number; y0: number; dx: number; dy: number; w: number; h: number }> {
  const passes = [];
  for (const [x0, y0, dx, dy] of ADAM7) {
    const w = Math.ceil((width - x0) / dx);
    const h = Math.ceil((height - y0) / dy);
    if (w > 0 && h > 0) passes.push({ x0, y0, dx, dy, w, h });
  }
  return passes;
}

const rowBytes = (width: number, h: PngHeader): number => Math.ceil((width * pngChannels(h.colorType) * h.depth) / 8);

/** Bytes of filtered scanlines the IDAT stream must inflate to. */
export function inflatedSize(h: PngHeader): number {
  if (!h.interlaced) return h.height * (1 + rowBytes(h.width, h));
  let n = 0;
  for (const p of adam7Passes(h.width, h.height)) n += p.h * (1 + rowBytes(p.w, h));
  return n;
}

/**
 * Inflates the IDAT stream with the platform's zlib (DecompressionStream: Workers, Node, Deno,
 * Bun, browsers) to check it before fast-png runs: fast-png keeps everything its inflater emits, so
 * a small file could expand to gigabytes, and a stream that ends early would decode to silent
 * zeros where PIL reports a truncated file. Output beyond the expected size is ignored (as PIL
 * does) up to a bound. Returns the scanlines when `keep` is set, else null.
 */
export async function inflateIdat(h: PngHeader, keep: boolean): Promise<Uint8Array | null> {
  if (typeof DecompressionStream === 'undefined') return null;
  const expected = inflatedSize(h);
  const limit = expected * 2 + 65_536;
  const kept = keep ? new Uint8Array(expected) : null;
  const ds = new DecompressionStream('deflate');
  const writer = ds.writable.getWriter();
  const reader = ds.readable.getReader();
  let stop = false;
  // Fed in slices: workerd inflates whatever is written ahead of the reader, so one 64 KB IDAT of a
  // zlib bomb became 64 MiB in memory (RSS +60 MB per request) before the bound below could act.
  // Deflate expands at most ~1032:1, so a slice of limit / 1032 bytes can never inflate to much more
  // than the image's own bound (256 B at least, 64 KiB at most: large images keep large writes).
  const slice = Math.max(256, Math.min(65_536, Math.floor(limit / 1032)));
  const writing = (async () => {
    for (const chunk of h.idat) {
      for (let o = 0; o < chunk.length && !stop; o += slice) await writer.write(chunk.subarray(o, o + slice) as Uint8Array<ArrayBuffer>);
    }
    if (!stop) await writer.close();
  })();
  writing.catch(() => {}); // a failure shows on the reading side
  let total = 0;
  let failure: unknown = null;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (kept && total < expected) kept.set(value.subarray(0, expected - total), total);
      total += value.length;
      if (total > limit) {
        stop = true;
        void reader.cancel().catch(() => {});
        throw corrupt('PNG', `image data inflates to more than ${limit} bytes where ${expected} are needed`);
      }
    }
  } catch (e) {
    if (total > limit) throw e;
    failure = e;
  }
  // zlib complaining after all the pixels arrived (bad Adler-32, junk after the stream) is
  // ignored, as PIL stops reading once the image is complete.
  if (total < expected) {
    const why = failure instanceof Error ? ` (${failure.message})` : '';
    throw corrupt('PNG', `image data ends after ${total} of ${expected} bytes: truncated or damaged zlib stream${why}`, failure ?? undefined);
  }
  return kept;
}

/** PNG's five row filters, in place, against the previous (unfiltered) row; `bpp` bytes per pixel (≥ 1). */
export function unfilter(filter: number, row: Uint8Array, prev: Uint8Array, bpp: number): void {
  const n = row.length;
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) row[i] = (row[i]! + row[i - bpp]!) & 255;
      return;
    case 2:
      for (let i = 0; i < n; i++) row[i] = (row[i]! + prev[i]!) & 255;
      return;
    case 3:
      for (let i = 0; i < n; i++) row[i] = (row[i]! + (((i >= bpp ? row[i - bpp]! : 0) + prev[i]!) >> 1)) & 255;
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? row[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        row[i] = (row[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
      }
      return;
    default:
      throw corrupt('PNG', `unknown row filter type ${filter}`);
  }
}
