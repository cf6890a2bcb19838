import { throwIfAborted } from './abort.ts';
import { type DeferredImageBytes, createImageDecoder } from './image/decoder.ts';
import { clipNormalize } from './image/preprocess.ts';
import type { ImageCodecWasm } from './image/wasm-codec.ts';
import type { ModelInfo } from './model/info.ts';
import type { VisionTower } from './remote-vision.ts';
import type { ImageDecodeOptions, ImageInfo } from './types.ts';
import { normalizeRows } from './zeroshot.ts';

export interface ImageEmbedderOptions {
  info: ModelInfo;
  vision: VisionTower;
  maxPixels: number;
  imageCodecs?: ImageCodecWasm;
  imageDecode?: ImageDecodeOptions;
}

export interface ImageEmbedder {
  /** `bytes` may be read later (see DeferredImageBytes). */
  (bytes: Uint8Array | DeferredImageBytes, signal?: AbortSignal): Promise<EmbeddedImage>;
  /** Wasm memory of the image codecs' live instances (bytes); see ImageDecoder.codecMemoryBytes. */
  codecMemoryBytes(): number;
  /** The most codecMemoryBytes() reached since the previous call. */
  codecMemoryPeakBytes(): number;
  /** Readies the decoder (Node: its decode threads). */
  warmup(): Promise<void>;
  /** Ends the decoder's threads, if any. */
  close(): Promise<void>;
}

export interface EmbeddedImage {
  /** L2-normalised. */
  embedding: Float32Array;
  image: ImageInfo;
  decodeMs: number;
  preprocessMs: number;
  inferenceMs: number;
}

/** Image bytes → decode → CLIP preprocess → vision tower → normalised embedding, with timings. */
export function createImageEmbedder(o: ImageEmbedderOptions): ImageEmbedder {
  const decoder = createImageDecoder({
    wasm: o.imageCodecs,
    maxPixels: o.maxPixels,
    ...(o.imageDecode?.budgetBytes !== undefined ? { decodeBudgetBytes: o.imageDecode.budgetBytes } : {}),
    jpegScaling: o.imageDecode?.jpegScaling ?? false,
    ...(o.imageDecode?.executor ? { executor: o.imageDecode.executor } : {}),
    ...(o.imageDecode?.yieldBetweenRows !== undefined ? { yieldBetweenRows: o.imageDecode.yieldBetweenRows } : {}),
    ...(o.imageDecode?.pollGrants !== undefined ? { pollGrants: o.imageDecode.pollGrants } : {}),
  });
  const { preprocess, embedDim } = o.info;
  // A budget that follows the model is measured with the model loaded and run once (its heap may grow on the first run).
  const budgetFollowsModel = typeof o.imageDecode?.budgetBytes === 'function';
  let settled: Promise<unknown> | undefined;
  const settle = async () => {
    await o.vision.load();
    // A tower run in other Workers grows no heap here: nothing to measure, and no request's time to spend on it.
    if (!o.vision.remote) await o.vision.run([new Float32Array(3 * preprocess.cropHeight * preprocess.cropWidth)]);
  };
  const embed = async (bytes: Uint8Array | DeferredImageBytes, signal?: AbortSignal): Promise<EmbeddedImage> => {
    throwIfAborted(signal);
    if (budgetFollowsModel) {
      await (settled ??= settle().catch((e) => {
        settled = undefined;
        throw e;
      }));
    }
    const img = await decoder.decodeForClip(bytes, preprocess, signal);
    throwIfAborted(signal);
    const t1 = performance.now();
    const pixels = clipNormalize(img.crop, preprocess);
    const preprocessMs = img.ms.resize + (performance.now() - t1);
    const t2 = performance.now();
    const [emb] = await o.vision.run([pixels], signal);
    return {
      embedding: normalizeRows(emb!, embedDim),
      image: { width: img.width, height: img.height, decode: img.decode },
      decodeMs: img.ms.decode,
      preprocessMs,
      inferenceMs: performance.now() - t2,
    };
  };
  return Object.assign(embed, { codecMemoryBytes: () => decoder.codecMemoryBytes(), codecMemoryPeakBytes: () => decoder.codecMemoryPeakBytes(), warmup: () => decoder.warmup(), close: () => decoder.close() });
}
