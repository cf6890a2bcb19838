import { throwIfAborted, whenAborted } from '../abort.ts';
import { freeBytes } from '../bytes.ts';
import { ClipEdgeError } from '../errors.ts';
import { DEFAULT_MAX_JPEG_SCANS, DEFAULT_MAX_PIXELS_PER_BYTE, estimateDecodeBytes, type HeaderLimits, headerWithin } from './decode-cost.ts';
import { DecodeMemory } from './decode-memory.ts';
import { type DecodeContext, type DecodePath, decodeWhole, overBudget, planForClip } from './decode-plan.ts';
import { createJpegCodec } from './jpeg.ts';
import { type JpegScale, JpegTurboCodec } from './jpeg-turbo.ts';
import { type ClipPreprocessConfig, assertResizable } from './preprocess.ts';
import type { ImageHeader, RgbImage } from './types.ts';
import type { ImageCodecWasm } from './wasm-codec.ts';
import type { KeptInstances } from './wasm-instances.ts';
import { createWebpCodec } from './webp.ts';
import { WebpStreamCodec } from './webp-stream.ts';

export type { ImageCodecWasm } from './wasm-codec.ts';
export { DEFAULT_MAX_JPEG_SCANS, DEFAULT_MAX_PIXELS_PER_BYTE, PIXELS_PER_BYTE_FLOOR, estimateDecodeBytes } from './decode-cost.ts';

/** Default {@link ImageDecoderOptions.maxPixels}: 40 megapixels (a 12 MP photo is 12,000,000). */
export const DEFAULT_MAX_PIXELS = 40_000_000;
export interface ImageDecoderOptions {
  /**
   * Compiled codec wasm from the runtime adapter (JPEG and WebP; PNG is pure JS). A format
   * whose wasm is missing is refused with UNSUPPORTED_IMAGE.
   * @defaultValue `{}`
   */
  readonly wasm?: ImageCodecWasm;
  /**
   * Largest width × height accepted, checked from the header before any pixel is decoded.
   * @defaultValue 40_000_000
   */
  readonly maxPixels?: number;
  /**
   * Bytes one decode may hold at its peak (codec wasm memory + pixel copies), estimated from the
   * header before decoding; an image over it gets IMAGE_TOO_LARGE naming what would fit. For
   * memory-capped runtimes (a Workers isolate has 128 MB in all). A function is asked before every
   * decode (the budget that follows the model: what the isolate has left once it is loaded).
   * With a budget, decodes run one at a time and the JPEG codec's instance is kept (its memory,
   * which never shrinks, then stays within the budget instead of piling up until a GC), so
   * concurrent requests share one budget instead of adding up.
   * @defaultValue Infinity
   */
  readonly decodeBudgetBytes?: number | (() => number);
  /**
   * Let {@link ImageDecoder.decodeForClip} decode a JPEG at 1/2, 1/4 or 1/8 scale in the DCT domain
   * (libjpeg's reduced IDCT; needs `wasm.jpegTurbo`) when the exact decode would exceed
   * `decodeBudgetBytes` and the scaled image still has a shortest side ≥ the model's input size.
   * Not PIL's pixels (bench/results/jpeg-scaled-decode.md measures how far); the result says which
   * path was taken. Off by default everywhere (Workers: CLIP_EDGE_JPEG_SCALING): exact decodes fit.
   * @defaultValue false
   */
  readonly jpegScaling?: boolean;
  /**
   * Most scans a JPEG may have. libjpeg passes over all of an image's coefficients once per
   * scan, so a progressive file that repeats a scan costs ~7 ms per 59-byte scan at 36 MP: 5,000
   * scans were a minute of CPU from 507 KB. The count is read from the markers before decoding;
   * more gets UNSUPPORTED_IMAGE. (libjpeg-turbo's TJPARAM_SCANLIMIT, for every JPEG decoder here.)
   * @defaultValue 100
   */
  readonly maxJpegScans?: number;
  /**
   * Most pixels an image over 4 MP may claim per byte sent, so that the decode's work and
   * memory follow the bytes a client sent, not what its header claims: a 38-byte lossless WebP
   * can declare 6324×6324 (a 160 MB decode). Photos carry 0.1–10 bytes per pixel; even a PNG of
   * one colour needs a byte per ~1,000 pixels (deflate's limit). More gets IMAGE_TOO_LARGE.
   * @defaultValue 1024
   */
  readonly maxPixelsPerByte?: number;
  /**
   * Where the pixels are decoded once an image has passed the header checks and holds its share
   * of the decode budget: by default right here, on the caller's thread. A runtime adapter may run
   * them elsewhere (Node: a pool of worker threads, so that a large decode never holds the event
   * loop and a decode past its deadline is stopped) — with the same options, minus the budget.
   * @defaultValue decodes in the calling thread
   */
  readonly executor?: DecodeExecutor;
  /**
   * Let the event loop run between batches of streamed rows (every ~2 MP), so that timers and an
   * aborted request's signal reach a long decode running in the calling thread; an aborted decode
   * then stops there. Workers turn it off: a request that resumes from another request's promise
   * (a decode waiting for the budget, granted when the other one finishes) and then sets a timer
   * is cancelled with the other request ("the Worker's code had hung") — and the platform bounds
   * each request's CPU anyway.
   * @defaultValue true
   */
  readonly yieldBetweenRows?: boolean;
  /**
   * A decode waiting for the budget learns of its turn on its own timer (every 2 ms) instead of
   * being resumed by the decode that made room: a Workers isolate needs this (a promise resolved by
   * another request resumes its awaiter in that request's context: see ByteBudget). The Workers
   * adapter turns it on; elsewhere the wait is resolved directly.
   * @defaultValue false
   */
  readonly pollGrants?: boolean;
  /**
   * Where decodes take turns (a budget function: Workers), an image handed over as
   * {@link DeferredImageBytes} is read in its turn; one whose bytes are still arriving after this
   * many milliseconds gives the turn up, is read outside it (its body is already admitted against
   * the body pool, which bounds that memory), and waits for a new turn with its bytes in hand. So a
   * client that sends slowly stalls the other decodes for at most this long, not for its whole upload.
   * @defaultValue 500
   */
  readonly turnReadMs?: number;
}

/**
 * An image's bytes, read only when asked (e.g. a request body). A decoder whose decodes take turns
 * (a budget function: Workers) asks when the image's turn comes, so an image waiting behind other
 * decodes is not yet held in memory; any other decoder asks at once. The bytes are handed over:
 * the decoder frees them once decoded (ArrayBuffer.prototype.transfer, where they cover their whole
 * buffer), as a body read and decoded in turn stayed allocated until the next GC (four 12 MP
 * bodies at once were all still there at the burst's peak in workerd).
 */
export type DeferredImageBytes = () => Promise<Uint8Array>;

/** Runs checked, admitted decodes somewhere (see ImageDecoderOptions.executor). */
export interface DecodeExecutor {
  /** `plan.jpegScale`: the DCT scale the calling decoder's budget chose for a JPEG (default 1: exact). */
  decodeForClip(bytes: Uint8Array, config: ClipPreprocessConfig, signal?: AbortSignal, plan?: { readonly jpegScale: JpegScale }): Promise<ClipCrop>;
  decode(bytes: Uint8Array, signal?: AbortSignal): Promise<RgbImage>;
  /** Makes it ready now (threads started and loaded) instead of on the first image. */
  warmup?(): Promise<void>;
  /** Ends what it holds (threads); later decodes are refused. */
  close?(): Promise<void>;
}

export type { DecodePath } from './decode-plan.ts';

/** An image made ready for CLIP: resized and center-cropped, and what it was. */
export interface ClipCrop {
  /** `cropWidth` × `cropHeight` RGB. */
  readonly crop: RgbImage;
  /** Upright size of the image as sent. */
  readonly width: number;
  readonly height: number;
  readonly decode: DecodePath;
  /** Milliseconds spent decoding, and resizing + cropping. */
  readonly ms: { readonly decode: number; readonly resize: number };
}

export interface ImageDecoder {
  /** Format, stored size and EXIF orientation from the header alone (no decoding). */
  readHeader(bytes: Uint8Array | ArrayBuffer): ImageHeader;
  /**
   * Decodes to upright 8-bit RGB, pixel for pixel what PIL's `Image.open`, `exif_transpose`
   * and `convert("RGB")` give (see pngToRgb for the one deliberate difference). Fails only with
   * ClipEdgeError: BAD_INPUT (empty), UNSUPPORTED_IMAGE, IMAGE_TOO_LARGE or CORRUPT_IMAGE.
   */
  decode(bytes: Uint8Array | ArrayBuffer, signal?: AbortSignal): Promise<RgbImage>;
  /**
   * Decode, then CLIP's resize + center crop: `resizeAndCenterCrop(await decode(bytes), config)`,
   * pixel for pixel, when `decode` is `exact`. With `wasm.jpegTurbo` a JPEG is resized straight
   * from the codec's memory (no full-size copy), and with `jpegScaling` it may be DCT-scaled.
   * `jpegScale`: decode a JPEG at this DCT scale, as another decoder planned it (a decode thread
   * running its caller's plan: the memory reserved was that plan's); default: this decoder's plan.
   * A {@link DeferredImageBytes} is read when the decode's turn comes.
   */
  decodeForClip(bytes: Uint8Array | ArrayBuffer | DeferredImageBytes, config: ClipPreprocessConfig, signal?: AbortSignal, jpegScale?: JpegScale): Promise<ClipCrop>;
  /** Wasm memory (bytes) of the JPEG codec instance after its last decode (0 before any). */
  jpegCodecMemoryBytes(): number;
  /**
   * Wasm memory (bytes) of the codec instances alive now: the streaming codecs' (libjpeg-turbo,
   * lossy WebP) in use and kept idle, or mozjpeg's last instance without libjpeg-turbo.
   */
  codecMemoryBytes(): number;
  /** The most {@link codecMemoryBytes} reached since the previous call (each decode's instance at its largest). */
  codecMemoryPeakBytes(): number;
  /** Decode memory reserved now by decodes at work, and how many wait for room (see decodeBudgetBytes). */
  memory(): { reservedBytes: number; waiting: number };
  /** Readies the executor (e.g. starts decode threads) so that the first image does not pay for it. */
  warmup(): Promise<void>;
  /** Ends the executor's threads, if any. */
  close(): Promise<void>;
}

interface ResolvedOptions {
  readonly wasm: ImageCodecWasm;
  readonly maxPixels: number;
  readonly decodeBudgetBytes: number | (() => number);
  readonly jpegScaling: boolean;
  readonly maxJpegScans: number;
  readonly maxPixelsPerByte: number;
  readonly executor: DecodeExecutor | null;
  readonly yieldBetweenRows: boolean;
  readonly pollGrants: boolean;
  readonly turnReadMs: number;
}

export function resolveImageDecoderOptions(o: ImageDecoderOptions = {}): ResolvedOptions {
  const maxPixels = o.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isSafeInteger(maxPixels) || maxPixels < 1) {
    throw new ClipEdgeError('BAD_INPUT', `maxPixels must be a positive integer, got ${String(o.maxPixels)}`);
  }
  const decodeBudgetBytes = o.decodeBudgetBytes ?? Infinity;
  if (typeof decodeBudgetBytes !== 'function' && !(decodeBudgetBytes > 0)) {
    throw new ClipEdgeError('BAD_INPUT', `decodeBudgetBytes must be a positive number, got ${String(o.decodeBudgetBytes)}`);
  }
  const maxJpegScans = positiveInteger('maxJpegScans', o.maxJpegScans, DEFAULT_MAX_JPEG_SCANS);
  const maxPixelsPerByte = positiveInteger('maxPixelsPerByte', o.maxPixelsPerByte, DEFAULT_MAX_PIXELS_PER_BYTE);
  const turnReadMs = positiveInteger('turnReadMs', o.turnReadMs, DEFAULT_TURN_READ_MS);
  return { wasm: o.wasm ?? {}, maxPixels, decodeBudgetBytes, jpegScaling: o.jpegScaling ?? false, maxJpegScans, maxPixelsPerByte, executor: o.executor ?? null, yieldBetweenRows: o.yieldBetweenRows ?? true, pollGrants: o.pollGrants ?? false, turnReadMs };
}

function positiveInteger(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new ClipEdgeError('BAD_INPUT', `${name} must be a positive integer, got ${String(v)}`);
  return v;
}

/**
 * An image decoder. Codec wasm is instantiated lazily, once, on the first image of its format,
 * so creating a decoder costs nothing and a PNG-only workload never loads mozjpeg. Every decode
 * passes the header checks (headerWithin), then reserves its estimated peak memory from the
 * decode budget before any pixel is decoded (decode-plan.ts chooses the path and its cost).
 */
export function createImageDecoder(options?: ImageDecoderOptions): ImageDecoder {
  const o = resolveImageDecoderOptions(options);
  const { wasm, executor } = o;
  const limits: HeaderLimits = { maxPixels: o.maxPixels, maxPixelsPerByte: o.maxPixelsPerByte, maxJpegScans: o.maxJpegScans };
  const turbo = wasm.jpegTurbo ? new JpegTurboCodec(wasm.jpegTurbo) : null;
  const webpStream = wasm.webpStream ? new WebpStreamCodec(wasm.webpStream) : null;
  const streaming = [turbo?.instances, webpStream?.instances].filter((k) => k !== undefined);
  const memory = new DecodeMemory(o.decodeBudgetBytes, streaming, o.pollGrants);
  const ctx: DecodeContext = {
    jpeg: createJpegCodec(wasm),
    turbo,
    webp: createWebpCodec(wasm),
    webpStream,
    memory,
    jpegScaling: o.jpegScaling,
    yieldBetweenRows: o.yieldBetweenRows,
  };
  const jpegMemory = () => ctx.turbo?.lastMemoryBytes ?? ctx.jpeg.lastMemoryBytes;
  const checkedHeader = (bytes: Uint8Array) => headerWithin(bytes, limits);
  /** Checks and plans the decode, then runs it `within` its share of the budget. */
  const forClip = async (bytes: Uint8Array, config: ClipPreprocessConfig, signal: AbortSignal | undefined, jpegScale: JpegScale | undefined, within: Within): Promise<ClipCrop> => {
    throwIfAborted(signal);
    memory.refresh();
    const header = checkedHeader(bytes);
    const swap = header.orientation >= 5;
    const upright = { width: swap ? header.height : header.width, height: swap ? header.width : header.height };
    assertResizable(upright.width, upright.height, config);
    const plan = planForClip(ctx, bytes, header, config, signal, jpegScale);
    if (plan.need > memory.bytes) throw overBudget(ctx, header, plan.need, bytes.length, false);
    // A thread decodes what was planned here (the DCT scale this budget chose), not its own plan.
    if (executor) return within(plan.need, null, () => executor.decodeForClip(bytes, config, signal, { jpegScale: plan.jpegScale }));
    return { ...upright, ...(await within(plan.need, plan.using, plan.run)) };
  };

  return {
    readHeader(input) {
      const h = checkedHeader(asBytes(input));
      return { format: h.format, width: h.width, height: h.height, orientation: h.orientation };
    },
    jpegCodecMemoryBytes: jpegMemory,
    codecMemoryBytes: () => (turbo ? 0 : ctx.jpeg.lastMemoryBytes) + streaming.reduce((n, k) => n + k.liveBytes(), 0),
    codecMemoryPeakBytes: () => (turbo ? 0 : ctx.jpeg.lastMemoryBytes) + streaming.reduce((n, k) => n + k.takePeak(), 0),
    memory: () => memory.usage(),
    warmup: async () => {
      await executor?.warmup?.();
    },
    close: async () => {
      await executor?.close?.();
    },

    async decodeForClip(input, config, signal, jpegScale): Promise<ClipCrop> {
      throwIfAborted(signal);
      const reserved: Within = (need, using, work) => memory.reserved(need, signal, work, using);
      if (typeof input !== 'function') return forClip(asBytes(input), config, signal, jpegScale, reserved);
      // Handed over: freed once decoded, also when the decode fails.
      const owned = async (bytes: Uint8Array, within: Within) => {
        try {
          return await forClip(bytes, config, signal, jpegScale, within);
        } finally {
          freeBytes(bytes);
        }
      };
      if (!memory.takesTurns()) return owned(asBytes(await input()), reserved);
      // Read when its turn comes (it then holds the whole budget); still arriving after turnReadMs:
      // read outside the turn, then decoded in a later one.
      let reading: Promise<Uint8Array | ArrayBuffer> | undefined;
      const inTurn = await memory.turn(signal, async (within) => {
        reading = input();
        reading.catch(() => {}); // read on below; a failure after its request was cancelled is not unhandled
        const got = await withinMs(untilAborted(reading, signal), o.turnReadMs);
        return got === SLOW ? SLOW : owned(asBytes(got), within);
      });
      if (inTurn !== SLOW) return inTurn;
      const bytes = asBytes(await untilAborted(reading!, signal));
      return memory.turn(signal, (within) => owned(bytes, within));
    },

    async decode(input, signal) {
      throwIfAborted(signal);
      const bytes = asBytes(input);
      memory.refresh();
      const header = checkedHeader(bytes);
      const need = estimateDecodeBytes(header, bytes.length, { jpegTurbo: ctx.turbo !== null, full: true });
      if (need > memory.bytes) throw overBudget(ctx, header, need, bytes.length, true);
      return memory.reserved(need, signal, () => (executor ? executor.decode(bytes, signal) : decodeWhole(ctx, bytes, header, need, signal)));
    },
  };
}

const DEFAULT_TURN_READ_MS = 500;
const SLOW = Symbol('still reading');

/** `p`'s value, or SLOW if it has not settled within `ms` (the timer is cleared either way). */
async function withinMs<T>(p: Promise<T>, ms: number): Promise<T | typeof SLOW> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<typeof SLOW>((r) => (timer = setTimeout(() => r(SLOW), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** `p`, or the signal's reason once it aborts (a body still arriving when its request is cancelled). */
async function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  const aborted = whenAborted(signal);
  try {
    return await Promise.race([p, aborted.promise]);
  } finally {
    aborted.dispose();
  }
}

/** Runs a planned decode within its share of the decode budget (DecodeMemory.reserved, or a turn's). */
type Within = <U>(need: number, using: KeptInstances | null, work: () => Promise<U>) => Promise<U>;

function asBytes(input: Uint8Array | ArrayBuffer): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) {
    const v = input as ArrayBufferView;
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }
  throw new ClipEdgeError('BAD_INPUT', 'Image bytes must be a Uint8Array or an ArrayBuffer');
}
