import { throwIfAborted } from '../abort.ts';
import { ClipEdgeError } from '../errors.ts';
import { corrupt } from './errors.ts';
import { WasmInstances } from './wasm-instances.ts';
import { assertJpegComplete, type JpegHeader } from './jpeg-header.ts';

/*
 * libjpeg-turbo 2.1.5 in WebAssembly, built by this project (codecs/libjpeg-turbo/: the library's
 * decoder plus a scanline interface, clip_edge_jpeg.c), used row by row: the caller receives a few
 * decoded rows at a time and resizes them as they come, so a baseline JPEG never exists whole in
 * memory. The compressed bytes are read from JavaScript in 64 KiB slices (js_read), not copied in.
 * A progressive (multi-scan) file is the exception libjpeg cannot avoid: all its DCT coefficients
 * are kept until the last scan (JpegHeader.coefficientBytes), then rows come out the same way.
 *
 * Unscaled, it is libjpeg-turbo with its defaults (islow IDCT, fancy upsampling): PIL's decoder,
 * pixel for pixel. Scaled (1/2, 1/4, 1/8), libjpeg's reduced IDCT: not PIL's pixels (see
 * ImageDecoderOptions.jpegScaling).
 */

interface TurboExports {
  readonly memory: WebAssembly.Memory;
  decoder_create(id: number): number;
  decoder_start(decoder: number, denom: number, rows: number): number;
  decoder_width(decoder: number): number;
  decoder_height(decoder: number): number;
  decoder_pixels(decoder: number): number;
  decoder_read(decoder: number): number;
  decoder_destroy(decoder: number): void;
}

const ENOSYS = 52;
/** Rows decoded per call into the wasm module. */
const ROWS_PER_READ = 16;
/** Decoded pixels between yields to the event loop (an in-thread decode lets timers and aborts in). */
const PIXELS_PER_YIELD = 2_000_000;

/** libjpeg's error_exit, thrown through the wasm frames by js_fail. */
class LibjpegError extends Error {}

/** DCT scaling: 1 (exact), 1/2, 1/4, 1/8. */
export type JpegScale = 1 | 2 | 4 | 8;

/** Size libjpeg gives at scale 1/`denom` (rounded up). */
export const scaledJpegSize = (width: number, height: number, denom: JpegScale): { width: number; height: number } => ({
  width: Math.ceil(width / denom),
  height: Math.ceil(height / denom),
});

/**
 * Wasm memory the codec needs to decode `header` at 1/`denom`, row by row: the whole-image
 * coefficients of a multi-scan file, libjpeg's row buffers (main, upsampling and colour-conversion
 * rows of every component: measured under 60 bytes per output column, 128 allowed), the rows
 * handed out per read, and ~1 MiB of code, stack and libjpeg state. The file stays in JS.
 */
export function jpegTurboDecodeBytes(header: JpegHeader, _fileBytes: number, denom: JpegScale): number {
  const s = scaledJpegSize(header.width, header.height, denom);
  return header.coefficientBytes + s.width * (128 + 3 * ROWS_PER_READ) + (1 << 20);
}

/** Rows `[y, y + count)` of a `width`-pixel-wide RGB image, a view into wasm memory valid only during the call. */
export type RowSink = (rows: Uint8Array, y: number, count: number) => void;

interface Instance {
  readonly exports: TurboExports;
  /** Files being read, by the id js_read is called with. */
  readonly files: Map<number, { bytes: Uint8Array; offset: number }>;
}

let nextFileId = 1;

/** libjpeg-turbo, one instance per decode at a time (WasmInstances: dropped after a libjpeg error or a large image). */
export class JpegTurboCodec {
  /** Its instances (the decode budget counts the idle one: DecodeMemory). */
  readonly instances: WasmInstances<Instance>;
  /** Wasm memory of the instance after the last decode (bytes). */
  lastMemoryBytes = 0;

  constructor(getModule: () => Promise<WebAssembly.Module>) {
    this.instances = new WasmInstances('libjpeg-turbo', getModule, instantiate, (i) => i.exports.memory.buffer.byteLength);
  }

  /**
   * Decodes at scale 1/`denom`, handing `sink` the RGB rows top to bottom (stored orientation) a few
   * at a time; yields to the event loop every ~2 MP and stops with the signal's reason when aborted
   * (`signal` null: never yields). Returns the decoded size. `discard` drops the instance after.
   */
  async decodeRows(bytes: Uint8Array, header: JpegHeader, denom: JpegScale, sink: RowSink, discard: boolean, signal?: AbortSignal | null): Promise<{ width: number; height: number }> {
    assertJpegComplete(bytes, header.scanOffset);
    const inst = await this.instances.acquire();
    const e = inst.exports;
    const id = nextFileId++;
    inst.files.set(id, { bytes, offset: 0 });
    let decoder = 0;
    let poisoned = true; // until the wasm calls are known to have returned normally
    try {
      decoder = e.decoder_create(id);
      if (!decoder) throw new ClipEdgeError('IMAGE_TOO_LARGE', 'Not enough memory to start the JPEG decoder');
      if (e.decoder_start(decoder, denom, ROWS_PER_READ) !== 0) throw new ClipEdgeError('IMAGE_TOO_LARGE', `Not enough memory to decode a ${header.width}×${header.height} JPEG`);
      const width = e.decoder_width(decoder);
      const height = e.decoder_height(decoder);
      const want = scaledJpegSize(header.width, header.height, denom);
      poisoned = false;
      if (width !== want.width || height !== want.height) throw corrupt('JPEG', `decoded ${width}×${height}, header said ${header.width}×${header.height}`);
      let y = 0;
      let sinceYield = 0;
      while (y < height) {
        poisoned = true;
        const n = e.decoder_read(decoder);
        poisoned = false;
        if (n <= 0) throw corrupt('JPEG', `libjpeg stopped after ${y} of ${height} rows`);
        sink(new Uint8Array(e.memory.buffer, e.decoder_pixels(decoder), n * width * 3), y, n);
        y += n;
        sinceYield += n * width;
        if (sinceYield >= PIXELS_PER_YIELD && y < height && signal !== null) {
          sinceYield = 0;
          await yieldToEventLoop();
          throwIfAborted(signal);
        }
      }
      return { width, height };
    } catch (err) {
      if (err instanceof LibjpegError) throw corrupt('JPEG', `libjpeg-turbo: ${err.message}`, err);
      throw err;
    } finally {
      inst.files.delete(id);
      this.lastMemoryBytes = e.memory.buffer.byteLength;
      // A poisoned instance's stack and heap are abandoned with it.
      if (!poisoned && decoder) e.decoder_destroy(decoder);
      this.instances.release(inst, !poisoned && !discard);
    }
  }

}

function instantiate(module: WebAssembly.Module): Instance {
  const files = new Map<number, { bytes: Uint8Array; offset: number }>();
  let memory: WebAssembly.Memory | null = null;
  const instance = new WebAssembly.Instance(module, {
    env: {
      js_read: (id: number, ptr: number, max: number): number => {
        const f = files.get(id);
        if (!f) return 0;
        const n = Math.min(max, f.bytes.length - f.offset);
        new Uint8Array(memory!.buffer, ptr, n).set(f.bytes.subarray(f.offset, f.offset + n));
        f.offset += n;
        return n;
      },
      js_fail: (_code: number, message: number): never => {
        const bytes = new Uint8Array(memory!.buffer, message);
        throw new LibjpegError(new TextDecoder().decode(bytes.subarray(0, Math.max(0, bytes.indexOf(0)))));
      },
    },
    wasi_snapshot_preview1: {
      // Linked in by libjpeg's default message printer and exit(), which clip_edge_jpeg.c replaces.
      proc_exit: (code: number) => {
        throw new LibjpegError(`exited (${code})`);
      },
      fd_close: () => ENOSYS,
      fd_seek: () => ENOSYS,
      fd_write: () => ENOSYS,
    },
  });
  const exports = instance.exports as unknown as TurboExports;
  memory = exports.memory;
  return { exports, files };
}

/** A macrotask turn: lets timers (a request's deadline) and abort events run between rows. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
