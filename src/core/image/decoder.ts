import { throwIfAborted } from '../abort.ts';
import { ClipEdgeError, isClipEdgeError } from '../errors.ts';
import { ByteBudget } from './byte-budget.ts';
import { DEFAULT_MAX_JPEG_SCANS, DEFAULT_MAX_PIXELS_PER_BYTE, estimateDecodeBytes, jpegForClipBytes, type HeaderLimits, headerWithin, mb, tooLargeToDecode } from './decode-cost.ts';
import { corrupt } from './errors.ts';
import type { FormatHeader } from './header.ts';
import type { JpegHeader } from './jpeg-header.ts';
import { createJpegCodec, decodeJpeg } from './jpeg.ts';
import { JpegTurboCodec, type JpegScale, type RowSink, scaledJpegSize } from './jpeg-turbo.ts';
import { applyOrientation } from './orient.ts';
import { decodePng } from './png.ts';
import { canStreamPng, decodePngForClip, streamedPngBytes } from './png-stream.ts';
import { type ClipPreprocessConfig, assertResizable, resizeAndCenterCrop } from './preprocess.ts';
import { createStreamingCrop, streamingCropBytes } from './resample-stream.ts';
import type { ExifOrientation, ImageHeader, RgbImage } from './types.ts';
import type { ImageCodecWasm } from './wasm-codec.ts';
import { createWebpCodec, decodeWebp } from './webp.ts';
import { WebpStreamCodec, webpStreamBytes } from './webp-stream.ts';

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
   * path was taken. Off by default; on by default on Workers.
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
}

/** Runs checked, admitted decodes somewhere (see ImageDecoderOptions.executor). */
export interface DecodeExecutor {
  decodeForClip(bytes: Uint8Array, config: ClipPreprocessConfig, signal?: AbortSignal): Promise<ClipCrop>;
  decode(bytes: Uint8Array, signal?: AbortSignal): Promise<RgbImage>;
  /** Makes it ready now (threads started and loaded) instead of on the first image. */
  warmup?(): Promise<void>;
  /** Ends what it holds (threads); later decodes are refused. */
  close?(): Promise<void>;
}

/** How an image was decoded: `exact` (PIL's pixels) or DCT-scaled at 1/2, 1/4 or 1/8 before the resize. */
export type DecodePath = 'exact' | 'dct-1/2' | 'dct-1/4' | 'dct-1/8';

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
   */
  decodeForClip(bytes: Uint8Array | ArrayBuffer, config: ClipPreprocessConfig, signal?: AbortSignal): Promise<ClipCrop>;
  /** Wasm memory (bytes) of the JPEG codec instance after its last decode (0 before any). */
  jpegCodecMemoryBytes(): number;
  /** Wasm memory (bytes) of the streaming codecs' instances after their last decodes: JPEG plus lossy WebP (0 before any). */
  codecMemoryBytes(): number;
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
}

const MiB = 1024 * 1024;

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
  return { wasm: o.wasm ?? {}, maxPixels, decodeBudgetBytes, jpegScaling: o.jpegScaling ?? false, maxJpegScans, maxPixelsPerByte, executor: o.executor ?? null, yieldBetweenRows: o.yieldBetweenRows ?? true };
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
 * decode budget before any pixel is decoded.
 */
export function createImageDecoder(options?: ImageDecoderOptions): ImageDecoder {
  const { wasm, maxPixels, decodeBudgetBytes: budgetOption, jpegScaling, maxJpegScans, maxPixelsPerByte, executor, yieldBetweenRows } = resolveImageDecoderOptions(options);
  const limits: HeaderLimits = { maxPixels, maxPixelsPerByte, maxJpegScans };
  const budgeted = budgetOption !== Infinity;
  /** The budget of the decode being planned (asked once per decode when it is a function). */
  let decodeBudgetBytes = typeof budgetOption === 'number' ? budgetOption : Infinity;
  const budgetNow = () => {
    if (typeof budgetOption === 'function') decodeBudgetBytes = Math.max(0, budgetOption());
    return decodeBudgetBytes;
  };
  const memory = new ByteBudget(budgetNow);
  const oneAtATime = typeof budgetOption === 'function';
  /** Reserves `need` bytes of the budget for `fn` (waiting for room, up to the signal), then releases them. */
  const reserved = async <T>(need: number, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> => {
    if (!budgeted) return fn();
    // A budget that follows the model (a memory-capped isolate, one thread): decodes take turns, as
    // running them interleaved would gain no speed there and would hold every decode's state at once.
    // (A budget function may answer Infinity: a reservation of Infinity would come back as NaN.)
    const release = await memory.acquire(oneAtATime && Number.isFinite(decodeBudgetBytes) ? Math.max(need, decodeBudgetBytes) : need, signal);
    try {
      throwIfAborted(signal);
      return await fn();
    } finally {
      release();
    }
  };
  // A small budget (a memory-capped isolate) keeps the JPEG codec's instance: its memory, which never
  // shrinks, then stays within the budget instead of piling up in abandoned instances until a GC.
  const keepCodec = typeof budgetOption === 'function' || budgetOption <= KEEP_CODEC_BUDGET_BYTES;
  /** Whether a codec instance that grew to `need` bytes is dropped after the decode. */
  const discardAfter = (need: number) => !keepCodec && need > DISCARD_AFTER_BYTES;
  const jpeg = createJpegCodec(wasm);
  const turbo = wasm.jpegTurbo ? new JpegTurboCodec(wasm.jpegTurbo) : null;
  const webp = createWebpCodec(wasm);
  const webpStream = wasm.webpStream ? new WebpStreamCodec(wasm.webpStream) : null;

  const overBudget = (header: FormatHeader, need: number, fileBytes: number, full: boolean, why = '') => tooLargeToDecode(header, need, fileBytes, full, decodeBudgetBytes, why);

  /** Exact, or the least DCT scaling that fits the budget and keeps the shortest side ≥ the model's input; and the memory it needs. */
  const jpegScale = (header: JpegHeader, fileBytes: number, config: ClipPreprocessConfig): { denom: JpegScale; need: number } => {
    const needAt = (denom: JpegScale) => jpegForClipBytes(header, denom, config);
    const exact = needAt(1);
    if (exact <= decodeBudgetBytes) return { denom: 1, need: exact };
    if (!jpegScaling) throw overBudget(header, exact, fileBytes, false);
    for (const denom of [2, 4, 8] as const) {
      const s = scaledJpegSize(header.width, header.height, denom);
      if (Math.min(s.width, s.height) < config.shortestEdge) break;
      const need = needAt(denom);
      if (need <= decodeBudgetBytes) return { denom, need };
    }
    throw overBudget(
      header,
      Math.max(needAt(8), Math.min(exact, decodeBudgetBytes + 1)),
      fileBytes,
      false,
      header.coefficientBytes ? ` even scaled (a ${header.progressive ? 'progressive' : 'multi-scan'} JPEG keeps all its DCT coefficients: ${mb(header.coefficientBytes)})` : '',
    );
  };

  /** Full-size upright RGB (the caller has checked the header and reserved the memory). */
  const decodeWhole = async (bytes: Uint8Array, header: FormatHeader, need: number, signal?: AbortSignal): Promise<RgbImage> => {
    const img = await guard(header, (): Promise<RgbImage> => {
      switch (header.format) {
        case 'jpeg':
          return turbo ? turboWhole(turbo, bytes, header, discardAfter(need), yieldBetweenRows ? signal : null) : decodeJpeg(jpeg, bytes, header);
        case 'png':
          return decodePng(bytes, header);
        case 'webp':
          return decodeWebp(webp, bytes, header);
      }
    });
    return applyOrientation(img, header.orientation);
  };

  type Cropped = Omit<ClipCrop, 'width' | 'height'>;

  /** A decoder's rows (stored orientation, top to bottom) through the streaming resize + crop, timing the two apart. */
  const streamedForClip = async (
    size: { width: number; height: number; orientation: ExifOrientation; format: FormatHeader['format'] },
    config: ClipPreprocessConfig,
    decodeRows: (sink: RowSink) => Promise<unknown>,
    path: DecodePath = 'exact',
  ): Promise<Cropped> => {
    const t0 = performance.now();
    const crop = createStreamingCrop(size.width, size.height, size.orientation, config);
    const stride = size.width * 3;
    let resize = 0;
    await guard(size, () =>
      decodeRows((rows, y, count) => {
        const t = performance.now();
        for (let i = 0; i < count; i++) if (crop.needsRow(y + i)) crop.pushRow(y + i, rows.subarray(i * stride, (i + 1) * stride));
        resize += performance.now() - t;
      }),
    );
    const t1 = performance.now();
    const result = crop.finish();
    resize += performance.now() - t1;
    return { crop: result, decode: path, ms: { decode: t1 - t0 - resize, resize } };
  };

  /** libjpeg-turbo, row by row into the streaming resize + crop, DCT-scaled at 1/`denom` (the caller has reserved the memory). */
  const turboForClip = (turboCodec: JpegTurboCodec, bytes: Uint8Array, header: JpegHeader, denom: JpegScale, need: number, config: ClipPreprocessConfig, signal?: AbortSignal): Promise<Cropped> => {
    const size = { ...scaledJpegSize(header.width, header.height, denom), orientation: header.orientation, format: header.format };
    const path: DecodePath = denom === 1 ? 'exact' : `dct-1/${denom}`;
    return streamedForClip(size, config, (sink) => turboCodec.decodeRows(bytes, header, denom, sink, discardAfter(need), yieldBetweenRows ? signal : null), path);
  };

  /** Whole image, then resize + crop. */
  const wholeForClip = async (bytes: Uint8Array, header: FormatHeader, need: number, config: ClipPreprocessConfig): Promise<Cropped> => {
    const t0 = performance.now();
    const img = await decodeWhole(bytes, header, need);
    const t1 = performance.now();
    return { crop: resizeAndCenterCrop(img, config), decode: 'exact', ms: { decode: t1 - t0, resize: performance.now() - t1 } };
  };

  /**
   * How an image reaches CLIP's crop, and the memory that takes at its peak: libjpeg-turbo from its
   * wasm memory (DCT-scaled if allowed and needed); a non-interlaced PNG streamed row by row (its
   * memory does not grow with the image); anything else decoded whole. With an executor the same
   * estimate is reserved here and the decode runs there.
   */
  const planForClip = (bytes: Uint8Array, header: FormatHeader, config: ClipPreprocessConfig, signal?: AbortSignal): { need: number; run: () => Promise<Cropped> } => {
    if (header.format === 'jpeg' && turbo) {
      const { denom, need } = jpegScale(header, bytes.length, config);
      return { need, run: () => turboForClip(turbo, bytes, header, denom, need, config, signal) };
    }
    if (header.format === 'webp' && webpStream && !header.lossless && !header.animated) {
      // Its wasm memory holds the file, so a kept instance would hold the largest file seen; under a
      // memory-capped budget it is dropped after each decode (measured: a kept 4 MB instance beside
      // four 12 MP JPEGs at once), and a fresh one from the compiled module costs ~1 ms.
      const need = webpStreamBytes(header, bytes.length) + streamingCropBytes(header.width, header.orientation, config);
      const run = () => streamedForClip(header, config, (sink) => webpStream.decodeRows(bytes, header, sink, keepCodec || discardAfter(need)));
      return { need, run };
    }
    if (header.format === 'png' && canStreamPng(header)) {
      const run = async (): Promise<Cropped> => {
        const t0 = performance.now();
        const crop = await guard(header, () => decodePngForClip(bytes, header, config, signal));
        return { crop, decode: 'exact', ms: { decode: performance.now() - t0, resize: 0 } };
      };
      return { need: bytes.length + streamedPngBytes(header, config), run };
    }
    const need = estimateDecodeBytes(header, bytes.length, { jpegTurbo: false, full: true });
    return { need, run: () => wholeForClip(bytes, header, need, config) };
  };

  const checkedHeader = (bytes: Uint8Array) => headerWithin(bytes, limits);

  return {
    readHeader(input) {
      const h = checkedHeader(asBytes(input));
      return { format: h.format, width: h.width, height: h.height, orientation: h.orientation };
    },

    jpegCodecMemoryBytes: () => turbo?.lastMemoryBytes ?? jpeg.lastMemoryBytes,

    codecMemoryBytes: () => (turbo?.lastMemoryBytes ?? jpeg.lastMemoryBytes) + (webpStream?.lastMemoryBytes ?? 0),

    memory: () => ({ reservedBytes: memory.inUse, waiting: memory.queued }),

    warmup: async () => {
      await executor?.warmup?.();
    },

    close: async () => {
      await executor?.close?.();
    },

    async decodeForClip(input, config, signal): Promise<ClipCrop> {
      throwIfAborted(signal);
      const bytes = asBytes(input);
      budgetNow();
      const header = checkedHeader(bytes);
      const swap = header.orientation >= 5;
      const upright = { width: swap ? header.height : header.width, height: swap ? header.width : header.height };
      assertResizable(upright.width, upright.height, config);
      const plan = planForClip(bytes, header, config, signal);
      if (plan.need > decodeBudgetBytes) throw overBudget(header, plan.need, bytes.length, false);
      if (executor) return reserved(plan.need, signal, () => executor.decodeForClip(bytes, config, signal));
      return { ...upright, ...(await reserved(plan.need, signal, plan.run)) };
    },

    async decode(input, signal) {
      throwIfAborted(signal);
      const bytes = asBytes(input);
      budgetNow();
      const header = checkedHeader(bytes);
      const need = estimateDecodeBytes(header, bytes.length, { jpegTurbo: turbo !== null, full: true });
      if (need > decodeBudgetBytes) throw overBudget(header, need, bytes.length, true);
      return reserved(need, signal, () => (executor ? executor.decode(bytes, signal) : decodeWhole(bytes, header, need, signal)));
    },
  };
}

/** A JPEG decoded whole, row by row into one buffer (stored orientation). */
async function turboWhole(codec: JpegTurboCodec, bytes: Uint8Array, header: JpegHeader, discard: boolean, signal: AbortSignal | null | undefined): Promise<RgbImage> {
  const data = new Uint8Array(header.width * header.height * 3);
  const stride = header.width * 3;
  await codec.decodeRows(bytes, header, 1, (rows, y) => data.set(rows, y * stride), discard, signal);
  return { width: header.width, height: header.height, data };
}

/** Budgets up to this keep the JPEG codec instance between decodes (see keepCodec). */
const KEEP_CODEC_BUDGET_BYTES = 256 * MiB;

/** A codec instance whose wasm memory grew past this is dropped after the decode (memory never shrinks). */
const DISCARD_AFTER_BYTES = 16 * MiB;

/** Whatever a codec throws on bad data (RangeError, TypeError, ...) is still bad data. */
async function guard<T>(header: { format: FormatHeader['format'] }, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isClipEdgeError(e)) throw e;
    throw corrupt(header.format.toUpperCase(), e instanceof Error ? e.message : String(e), e);
  }
}

function asBytes(input: Uint8Array | ArrayBuffer): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) {
    const v = input as ArrayBufferView;
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }
  throw new ClipEdgeError('BAD_INPUT', 'Image bytes must be a Uint8Array or an ArrayBuffer');
}
