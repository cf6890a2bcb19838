import { throwIfAborted } from '../abort.ts';
import { freeBytes } from '../bytes.ts';
import { corrupt } from './errors.ts';
import { checkCrcs, paletteOf } from './png.ts';
import { unfilter } from './png-inflate.ts';
import { pngChannels, type PngHeader } from './png-header.ts';
import { paletteLut } from './png-pixels.ts';
import type { ClipPreprocessConfig } from './preprocess.ts';
import { createStreamingCrop, streamingCropBytes } from './resample-stream.ts';
import type { RgbImage } from './types.ts';

/*
 * A non-interlaced PNG straight to CLIP's crop, row by row: the platform's zlib
 * (DecompressionStream) inflates the IDAT stream in slices, each scanline is unfiltered against the
 * previous one, converted to 8-bit RGB as PIL's convert("RGB") does (pngToRgb's rules) and handed to
 * the streaming resize + crop. Memory: two scanlines, the inflater's buffers and the crop's state,
 * never the image; work is checked against the signal every few rows. Interlaced PNGs (their rows
 * arrive in seven passes) take the whole-image path.
 */

/** Whether this PNG can be streamed here. */
export const canStreamPng = (h: PngHeader): boolean => !h.interlaced && typeof DecompressionStream !== 'undefined';

/** Bytes a streamed decode holds at its peak, besides the file: scanlines, inflater, crop state. */
export function streamedPngBytes(h: PngHeader, config: ClipPreprocessConfig): number {
  const row = Math.ceil((h.width * pngChannels(h.colorType) * h.depth) / 8) + 1;
  return 4 * row + h.width * 3 + streamingCropBytes(h.width, h.orientation, config) + (1 << 20);
}

/** Decodes and crops; `bytes` passed the header checks (IDAT present, lengths within the file). */
export async function decodePngForClip(bytes: Uint8Array, h: PngHeader, config: ClipPreprocessConfig, signal?: AbortSignal): Promise<RgbImage> {
  if (h.incomplete) throw corrupt('PNG', h.incomplete);
  if (h.idat.length === 0) throw corrupt('PNG', 'no IDAT chunk (no image data)');
  if (h.colorType === 3 && !h.plte) throw corrupt('PNG', 'palette image without a PLTE chunk');
  checkCrcs(bytes);
  const crop = createStreamingCrop(h.width, h.height, h.orientation, config);
  const stride = Math.ceil((h.width * pngChannels(h.colorType) * h.depth) / 8);
  const bpp = Math.max(1, Math.ceil((pngChannels(h.colorType) * h.depth) / 8));
  const toRgb = rowConverter(h);
  let prev = new Uint8Array(stride);
  let cur = new Uint8Array(stride);
  const rgb = new Uint8Array(h.width * 3);
  let filter = -1; // the current row's filter byte, once read
  let filled = 0;
  let y = 0;
  await inflateRows(h, (chunk) => {
    let o = 0;
    while (o < chunk.length && y < h.height) {
      if (filter < 0) {
        filter = chunk[o++]!;
        continue;
      }
      const take = Math.min(stride - filled, chunk.length - o);
      cur.set(chunk.subarray(o, o + take), filled);
      filled += take;
      o += take;
      if (filled < stride) break;
      unfilter(filter, cur, prev, bpp);
      if (crop.needsRow(y)) crop.pushRow(y, toRgb(cur, rgb));
      [prev, cur] = [cur, prev];
      filter = -1;
      filled = 0;
      if (++y % 64 === 0) throwIfAborted(signal);
    }
    return y >= h.height;
  });
  if (y < h.height) throw corrupt('PNG', `image data ends after ${y} of ${h.height} rows: truncated or damaged zlib stream`);
  return crop.finish();
}

/** What a read that found nothing queued resolves with (see inflateRows). */
const NOTHING_QUEUED = Symbol('nothing queued');

/**
 * Feeds the inflated IDAT stream to `onChunk` until it returns true (all rows read); like
 * png-inflate.ts, input goes in slices small enough that one cannot inflate to much more than the
 * image needs, and zlib's complaints after the last row are ignored (PIL stops reading there).
 * The next slice is written only once the reader has used up what the inflater gave it: the
 * platform's inflater does not wait for its reader (measured in workerd: a 12 MP PNG held 8.6 MB of
 * inflated rows ahead of the resize), so paced this way it holds about one slice's output.
 */
async function inflateRows(h: PngHeader, onChunk: (chunk: Uint8Array) => boolean): Promise<void> {
  const ds = new DecompressionStream('deflate');
  const writer = ds.writable.getWriter();
  const reader = chunkReader(ds.readable);
  let stop = false;
  // Whether the reader waits with nothing queued, and the writer waiting for that.
  let starved = false;
  let wakeWriter: (() => void) | null = null;
  const setStarved = (v: boolean) => {
    starved = v;
    if ((v || stop) && wakeWriter) {
      wakeWriter();
      wakeWriter = null;
    }
  };
  // As in png-inflate.ts: deflate expands at most ~1032:1, so a slice this size cannot inflate to much
  // more than the image's own bound (a zlib bomb is read a slice at a time and never held whole);
  // 4 KiB of a photo's IDAT is ~100 KB of rows.
  const expected = h.height * (1 + Math.ceil((h.width * pngChannels(h.colorType) * h.depth) / 8));
  const slice = Math.max(256, Math.min(4096, Math.floor((expected * 2 + 65_536) / 1032)));
  const writing = (async () => {
    for (const chunk of h.idat) {
      for (let o = 0; o < chunk.length && !stop; o += slice) {
        while (!starved && !stop) await new Promise<void>((r) => (wakeWriter = r));
        if (stop) return;
        // A slice that inflates to nothing yet leaves the reader starved: the next one follows.
        await writer.write(chunk.subarray(o, o + slice) as Uint8Array<ArrayBuffer>);
      }
    }
    if (!stop) await writer.close();
  })();
  writing.catch(() => {});
  const end = () => {
    stop = true;
    setStarved(false);
    void reader.cancel().catch(() => {});
  };
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array> | typeof NOTHING_QUEUED;
    try {
      const read = reader.read();
      // A read with output queued resolves first; one that would wait lets the writer go on.
      next = await Promise.race([read, Promise.resolve(NOTHING_QUEUED)]);
      if (next === NOTHING_QUEUED) {
        setStarved(true);
        next = await read;
      }
      starved = false;
    } catch {
      end();
      return; // a damaged stream: the caller reports how many rows arrived
    }
    if (next.done) return;
    let complete = true;
    try {
      complete = onChunk(next.value);
      reader.done(next.value);
    } finally {
      if (complete) end(); // all rows read, or a bad filter byte / the signal: stop the inflater
    }
    if (complete) return;
  }
}

/** Size of the buffer a BYOB reader reads the inflated stream into (see chunkReader). */
const BYOB_BYTES = 64 * 1024;

/**
 * Reads the inflater's output. Where its readable is a byte stream (workerd) the chunks are read
 * into one 64 KiB buffer of ours, handed back and forth: workerd's inflater otherwise hands out
 * 4 KiB chunks, each a new buffer and a promise round trip — ~8,800 per 12 MP PNG, ~20 MiB of
 * short-lived objects per decode that V8's young generation held until its next scavenge
 * (measured: four 12 MP PNGs at once peaked at 125 MiB, 15 MiB of it JS objects; 116 MiB with
 * BYOB reads, 550 of them). Elsewhere (Node's is not a byte stream) each chunk is read as given
 * and freed once used (freeBytes). `done(chunk)`: the caller has used the chunk.
 */
function chunkReader(readable: ReadableStream<Uint8Array>): { read(): Promise<ReadableStreamReadResult<Uint8Array>>; done(chunk: Uint8Array): void; cancel(): Promise<void> } {
  let byob: ReadableStreamBYOBReader | null = null;
  try {
    byob = readable.getReader({ mode: 'byob' });
  } catch {
    // Not a byte stream: TypeError.
  }
  if (!byob) {
    const reader = readable.getReader();
    // Each chunk's memory goes back once its rows are read: otherwise every chunk of the ~3 bytes per
    // pixel that pass through stays allocated until the next GC (measured in workerd: four 12 MP PNGs
    // in a row peaked ~10 MiB above their live data).
    return { read: () => reader.read(), done: freeBytes, cancel: () => reader.cancel() };
  }
  const r = byob;
  let space: ArrayBuffer = new ArrayBuffer(BYOB_BYTES);
  return {
    // The buffer is transferred into the read and comes back as the chunk's buffer.
    read: () => r.read(new Uint8Array(space)) as Promise<ReadableStreamReadResult<Uint8Array>>,
    done: (chunk) => void (space = chunk.buffer as ArrayBuffer),
    cancel: () => r.cancel(),
  };
}


/** One unfiltered scanline to 8-bit RGB, by pngToRgb's rules (png-pixels.ts). */
function rowConverter(h: PngHeader): (row: Uint8Array, out: Uint8Array) => Uint8Array {
  const { width, depth, colorType } = h;
  if (colorType === 3 || depth < 8) {
    const lut = colorType === 3 ? paletteLut(paletteOf(h.plte)) : null;
    const mask = (1 << depth) - 1;
    const scale = 255 / mask;
    return (row, out) => {
      for (let x = 0, o = 0; x < width; x++, o += 3) {
        const bit = x * depth;
        const v = depth === 8 ? row[x]! : (row[bit >> 3]! >> (8 - depth - (bit & 7))) & mask;
        if (lut) {
          out[o] = lut[v * 3]!;
          out[o + 1] = lut[v * 3 + 1]!;
          out[o + 2] = lut[v * 3 + 2]!;
        } else out[o] = out[o + 1] = out[o + 2] = v * scale;
      }
      return out;
    };
  }
  const channels = pngChannels(colorType);
  const sample = depth / 8; // 1 or 2 bytes; a 16-bit sample keeps its high (first) byte
  const px = channels * sample;
  return (row, out) => {
    if (channels <= 2) for (let x = 0, p = 0, o = 0; x < width; x++, p += px, o += 3) out[o] = out[o + 1] = out[o + 2] = row[p]!;
    else
      for (let x = 0, p = 0, o = 0; x < width; x++, p += px, o += 3) {
        out[o] = row[p]!;
        out[o + 1] = row[p + sample]!;
        out[o + 2] = row[p + 2 * sample]!;
      }
    return out;
  };
}
