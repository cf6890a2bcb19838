import { throwIfAborted } from '../abort.ts';
import { ClipEdgeError } from '../errors.ts';
import { corrupt } from './errors.ts';
import { WasmInstances } from './wasm-instances.ts';
import type { RowSink } from './jpeg-turbo.ts';
import type { WebpHeader } from './webp-header.ts';

/*
 * libwebp 1.2.4's lossy (VP8) decoder in WebAssembly, built by this project (codecs/libwebp/: the
 * library plus clip_edge_webp.c), handing its rows to JavaScript as the fancy upsampler emits them
 * (a few at a time, through a ring of 48 rows), so a lossy WebP is never whole in memory: the file,
 * VP8's row caches and the ring. The decode runs in steps of a few macroblock rows (webp_rows; rows
 * arrive through the js_rows import), so that, as for JPEG, the event loop can run between them and
 * an aborted decode stops there. The alpha plane is skipped (PIL's convert("RGB") drops it). Lossless WebP cannot be
 * streamed (its backward references reach the whole image) and is decoded whole elsewhere.
 */

interface WebpExports {
  readonly memory: WebAssembly.Memory;
  webp_alloc(size: number): number;
  webp_free(ptr: number): void;
  webp_begin(data: number, size: number, id: number, width: number, height: number): number;
  webp_rows(mbRows: number): number;
  webp_end(): void;
}

/** libwebp's VP8StatusCode names, for error messages. */
const STATUS = ['OK', 'out of memory', 'invalid parameter', 'bitstream error', 'unsupported feature', 'suspended', 'user abort', 'not enough data'];

/** Rows the C side's ring holds (RING_ROWS in clip_edge_webp.c). */
const RING_ROWS = 48;
/** Macroblock rows (16 pixel rows each) decoded per webp_rows call. */
const MB_ROWS_PER_STEP = 8;
/** webp_rows: rows remain. */
const MORE_ROWS = -4;
/** Decoded pixels between yields to the event loop (as jpeg-turbo.ts). */
const PIXELS_PER_YIELD = 2_000_000;

/**
 * Wasm memory a streamed decode needs besides the crop: the file copied in, VP8's per-row state
 * (top samples, per-macroblock coefficients and the filtered-row cache: measured ~90 bytes per
 * column, 128 allowed), the ring, and ~1 MiB of code, stack and tables.
 */
export const webpStreamBytes = (header: WebpHeader, fileBytes: number): number => fileBytes + header.width * (128 + 3 * RING_ROWS) + (1 << 20);

interface Instance {
  readonly exports: WebpExports;
  readonly sinks: Map<number, { sink: RowSink; width: number }>;
}

let nextId = 1;

/** libwebp's lossy decoder, one instance per decode at a time (WasmInstances). */
export class WebpStreamCodec {
  /** Its instances (the decode budget counts the idle one: DecodeMemory). */
  readonly instances: WasmInstances<Instance>;
  /** Wasm memory of the instance after the last decode (bytes). */
  lastMemoryBytes = 0;

  constructor(getModule: () => Promise<WebAssembly.Module>) {
    this.instances = new WasmInstances('libwebp', getModule, instantiate, (i) => i.exports.memory.buffer.byteLength);
  }

  /**
   * Decodes a lossy WebP, handing `sink` its RGB rows top to bottom (stored orientation); yields to
   * the event loop every ~2 MP and stops with the signal's reason when aborted (`signal` null: never
   * yields). `discard` drops the instance after.
   */
  async decodeRows(bytes: Uint8Array, header: WebpHeader, sink: RowSink, discard: boolean, signal?: AbortSignal | null): Promise<void> {
    if (header.lossless) throw new ClipEdgeError('INTERNAL', 'a lossless WebP cannot be streamed');
    const inst = await this.instances.acquire();
    const e = inst.exports;
    const id = nextId++;
    inst.sinks.set(id, { sink, width: header.width });
    let input = 0;
    let reusable = false;
    try {
      input = e.webp_alloc(bytes.length);
      if (!input) throw new ClipEdgeError('IMAGE_TOO_LARGE', `Not enough memory to hold the ${bytes.length}-byte WebP`);
      new Uint8Array(e.memory.buffer, input, bytes.length).set(bytes);
      let status = e.webp_begin(input, bytes.length, id, header.width, header.height);
      reusable = true; // returned normally: the instance's stack is intact
      const pixelsPerStep = MB_ROWS_PER_STEP * 16 * header.width;
      for (let sinceYield = 0; status === 0 || status === MORE_ROWS; sinceYield += pixelsPerStep) {
        if (sinceYield >= PIXELS_PER_YIELD && signal !== null) {
          sinceYield = 0;
          await yieldToEventLoop();
          throwIfAborted(signal);
        }
        reusable = false;
        status = e.webp_rows(MB_ROWS_PER_STEP);
        reusable = true;
        if (status === 0) break;
      }
      if (status === -2) throw corrupt('WebP', `the bitstream's size differs from the header's ${header.width}×${header.height}`);
      if (status === -1) throw corrupt('WebP', 'the lossy header leads to a lossless bitstream');
      if (status === -3) throw corrupt('WebP', 'a batch of rows did not fit the ring');
      if (status !== 0) throw corrupt('WebP', `libwebp: ${STATUS[status] ?? `error ${status}`} (truncated or damaged data)`);
    } finally {
      inst.sinks.delete(id);
      this.lastMemoryBytes = e.memory.buffer.byteLength;
      if (reusable) e.webp_end();
      if (reusable && input) e.webp_free(input);
      this.instances.release(inst, reusable && !discard);
    }
  }

}

function instantiate(module: WebAssembly.Module): Instance {
  const sinks = new Map<number, { sink: RowSink; width: number }>();
  let memory: WebAssembly.Memory | null = null;
  const instance = new WebAssembly.Instance(module, {
    env: {
      // A throw from the sink unwinds through the wasm frames: the instance is then dropped (decodeRows).
      js_rows: (id: number, ptr: number, y: number, count: number): void => {
        const s = sinks.get(id);
        if (s) s.sink(new Uint8Array(memory!.buffer, ptr, count * s.width * 3), y, count);
      },
    },
  });
  const exports = instance.exports as unknown as WebpExports;
  memory = exports.memory;
  return { exports, sinks };
}

/** A macrotask turn: lets timers (a request's deadline) and abort events run between rows. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
