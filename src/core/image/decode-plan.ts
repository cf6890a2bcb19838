import { isClipEdgeError } from '../errors.ts';
import { estimateDecodeBytes, jpegForClipBytes, mb, tooLargeToDecode } from './decode-cost.ts';
import type { DecodeMemory } from './decode-memory.ts';
import { corrupt } from './errors.ts';
import type { FormatHeader } from './header.ts';
import type { JpegHeader } from './jpeg-header.ts';
import { type createJpegCodec, decodeJpeg } from './jpeg.ts';
import { type JpegScale, type JpegTurboCodec, type RowSink, scaledJpegSize } from './jpeg-turbo.ts';
import { applyOrientation } from './orient.ts';
import { decodePng } from './png.ts';
import { canStreamPng, decodePngForClip, streamedPngBytes } from './png-stream.ts';
import { type ClipPreprocessConfig, resizeAndCenterCrop } from './preprocess.ts';
import { createStreamingCrop, streamingCropBytes } from './resample-stream.ts';
import type { ExifOrientation, RgbImage } from './types.ts';
import { type createWebpCodec, decodeWebp } from './webp.ts';
import { type WebpStreamCodec, webpStreamBytes } from './webp-stream.ts';
import type { KeptInstances } from './wasm-instances.ts';

/*
 * How one image that passed the header checks is decoded: which path (streamed row by row into
 * CLIP's crop, or whole), the memory that path holds at its peak (reserved from the decode budget
 * before it runs), and the decode itself. createImageDecoder (decoder.ts) owns the context.
 */

/** How an image was decoded: `exact` (PIL's pixels) or DCT-scaled at 1/2, 1/4 or 1/8 before the resize. */
export type DecodePath = 'exact' | 'dct-1/2' | 'dct-1/4' | 'dct-1/8';

/** A crop and how it was made (the upright size is added by the decoder). */
export interface Cropped {
  readonly crop: RgbImage;
  readonly decode: DecodePath;
  readonly ms: { readonly decode: number; readonly resize: number };
}

/** What a decode runs with: the codecs (instantiated lazily), the budget, and the options that choose a path. */
export interface DecodeContext {
  readonly jpeg: ReturnType<typeof createJpegCodec>;
  readonly turbo: JpegTurboCodec | null;
  readonly webp: ReturnType<typeof createWebpCodec>;
  readonly webpStream: WebpStreamCodec | null;
  readonly memory: DecodeMemory;
  readonly jpegScaling: boolean;
  readonly yieldBetweenRows: boolean;
}

/** IMAGE_TOO_LARGE for `need` bytes against the budget now. */
export const overBudget = (ctx: DecodeContext, header: FormatHeader, need: number, fileBytes: number, full: boolean, why = '') =>
  tooLargeToDecode(header, need, fileBytes, full, ctx.memory.bytes, why);

/**
 * How an image reaches CLIP's crop, and the memory that takes at its peak: a JPEG row by row from
 * libjpeg-turbo (DCT-scaled if allowed and needed), a lossy WebP row by row from libwebp, a
 * non-interlaced PNG row by row from the platform's inflate (their memory does not grow with the
 * image); anything else decoded whole. With an executor the same estimate is reserved by the
 * caller and the decode runs there.
 */
export function planForClip(ctx: DecodeContext, bytes: Uint8Array, header: FormatHeader, config: ClipPreprocessConfig, signal?: AbortSignal, scale?: JpegScale): ClipPlan {
  const { turbo, webpStream, memory } = ctx;
  const yieldSignal = ctx.yieldBetweenRows ? signal : null;
  if (header.format === 'jpeg' && turbo) {
    const { denom, need } = scale ? { denom: scale, need: jpegForClipBytes(header, scale, config) } : jpegScale(ctx, header, bytes.length, config);
    const size = { ...scaledJpegSize(header.width, header.height, denom), orientation: header.orientation, format: header.format };
    const path: DecodePath = denom === 1 ? 'exact' : `dct-1/${denom}`;
    const run = () => streamedForClip(size, config, (sink) => turbo.decodeRows(bytes, header, denom, sink, memory.discardAfter(need), yieldSignal), path);
    return { need, run, using: turbo.instances, jpegScale: denom };
  }
  if (header.format === 'webp' && webpStream && !header.lossless && !header.animated) {
    // Its wasm memory holds the file, so a kept instance holds the largest file seen: under a budget it
    // is counted against it while idle (DecodeMemory) and let go when a decode needs the room. Kept,
    // as dropping one per decode left each 4 MiB instance to the next GC (four 12 MP WebPs in a row
    // measured 16 MiB of JS heap beside them in workerd). Without a small budget one that needed over 4 MiB is dropped.
    const need = webpStreamBytes(header, bytes.length) + streamingCropBytes(header.width, header.orientation, config);
    return { need, run: () => streamedForClip(header, config, (sink) => webpStream.decodeRows(bytes, header, sink, memory.discardAfter(need), yieldSignal)), using: webpStream.instances, jpegScale: 1 };
  }
  if (header.format === 'png' && canStreamPng(header)) {
    const run = async (): Promise<Cropped> => {
      const t0 = performance.now();
      const crop = await guard(header, () => decodePngForClip(bytes, header, config, signal));
      return { crop, decode: 'exact', ms: { decode: performance.now() - t0, resize: 0 } };
    };
    return { need: bytes.length + streamedPngBytes(header, config), run, using: null, jpegScale: 1 };
  }
  const need = estimateDecodeBytes(header, bytes.length, { jpegTurbo: false, full: true });
  return { need, run: () => wholeForClip(ctx, bytes, header, need, config), using: null, jpegScale: 1 };
}

/** A planned decode: the memory it holds at its peak, the decode, and what it decodes with. */
export interface ClipPlan {
  readonly need: number;
  readonly run: () => Promise<Cropped>;
  /** The codec whose idle instance the decode takes (DecodeMemory.reserved), if any. */
  readonly using: KeptInstances | null;
  /** The DCT scale of a JPEG (1: exact; 1 for other formats). */
  readonly jpegScale: JpegScale;
}

/** Exact, or the least DCT scaling that fits the budget and keeps the shortest side ≥ the model's input; and the memory it needs. */
function jpegScale(ctx: DecodeContext, header: JpegHeader, fileBytes: number, config: ClipPreprocessConfig): { denom: JpegScale; need: number } {
  const budget = ctx.memory.bytes;
  const needAt = (denom: JpegScale) => jpegForClipBytes(header, denom, config);
  const exact = needAt(1);
  if (exact <= budget) return { denom: 1, need: exact };
  if (!ctx.jpegScaling) throw overBudget(ctx, header, exact, fileBytes, false);
  for (const denom of [2, 4, 8] as const) {
    const s = scaledJpegSize(header.width, header.height, denom);
    if (Math.min(s.width, s.height) < config.shortestEdge) break;
    const need = needAt(denom);
    if (need <= budget) return { denom, need };
  }
  const why = header.coefficientBytes ? ` even scaled (a ${header.progressive ? 'progressive' : 'multi-scan'} JPEG keeps all its DCT coefficients: ${mb(header.coefficientBytes)})` : '';
  throw overBudget(ctx, header, Math.max(needAt(8), Math.min(exact, budget + 1)), fileBytes, false, why);
}

/** A decoder's rows (stored orientation, top to bottom) through the streaming resize + crop, timing the two apart. */
async function streamedForClip(
  size: { width: number; height: number; orientation: ExifOrientation; format: FormatHeader['format'] },
  config: ClipPreprocessConfig,
  decodeRows: (sink: RowSink) => Promise<unknown>,
  path: DecodePath = 'exact',
): Promise<Cropped> {
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
}

/** Whole image, then resize + crop. */
async function wholeForClip(ctx: DecodeContext, bytes: Uint8Array, header: FormatHeader, need: number, config: ClipPreprocessConfig): Promise<Cropped> {
  const t0 = performance.now();
  const img = await decodeWhole(ctx, bytes, header, need);
  const t1 = performance.now();
  return { crop: resizeAndCenterCrop(img, config), decode: 'exact', ms: { decode: t1 - t0, resize: performance.now() - t1 } };
}

/** Full-size upright RGB (the caller has checked the header and reserved the memory). */
export async function decodeWhole(ctx: DecodeContext, bytes: Uint8Array, header: FormatHeader, need: number, signal?: AbortSignal): Promise<RgbImage> {
  const img = await guard(header, (): Promise<RgbImage> => {
    switch (header.format) {
      case 'jpeg':
        return ctx.turbo ? turboWhole(ctx.turbo, bytes, header, ctx.memory.discardAfter(need), ctx.yieldBetweenRows ? signal : null) : decodeJpeg(ctx.jpeg, bytes, header);
      case 'png':
        return decodePng(bytes, header);
      case 'webp':
        return decodeWebp(ctx.webp, bytes, header);
    }
  });
  return applyOrientation(img, header.orientation);
}

/** A JPEG decoded whole, row by row into one buffer (stored orientation). */
async function turboWhole(codec: JpegTurboCodec, bytes: Uint8Array, header: JpegHeader, discard: boolean, signal: AbortSignal | null | undefined): Promise<RgbImage> {
  const data = new Uint8Array(header.width * header.height * 3);
  const stride = header.width * 3;
  await codec.decodeRows(bytes, header, 1, (rows, y) => data.set(rows, y * stride), discard, signal);
  return { width: header.width, height: header.height, data };
}

/** Whatever a codec throws on bad data (RangeError, TypeError, ...) is still bad data. */
async function guard<T>(header: { format: FormatHeader['format'] }, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isClipEdgeError(e)) throw e;
    throw corrupt(header.format.toUpperCase(), e instanceof Error ? e.message : String(e), e);
  }
}
