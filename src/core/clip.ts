import { throwIfAborted } from './abort.ts';
import { type Backend, resolveBackend } from './backend.ts';
import { createClassMatrices } from './class-matrices.ts';
import { ClipEdgeError } from './errors.ts';
import { createImageEmbedder } from './image-embedder.ts';
import { createLabelResolver } from './label-resolver.ts';
import { BATCH, type ClipLimits, DEFAULT_LIMITS, TOP_K } from './limits.ts';
import { type ModelInfo, availablePrecisions, readModelInfo } from './model/info.ts';
import { encodePromptCache } from './prompt-cache/format.ts';
import { clipEdgeStatus } from './status.ts';
import { type TextEmbedder, checkTexts, createTextEmbedder, requireText } from './text-embedder.ts';
import { type TextItem, TowerRunner, type VisionItem } from './tower.ts';
import type { ClipEdge, ClipEdgeOptions } from './types.ts';
import type { Precision } from './precision.ts';
import { pickVariant } from './variants.ts';
import { normalizeRows, rankLabels } from './zeroshot.ts';
import type { VisionTower } from './remote-vision.ts';

export { DEFAULT_LIMITS, type ClipLimits } from './limits.ts';
export { throwIfAborted } from './abort.ts';
export type * from './types.ts';

const since = (t: number) => performance.now() - t;

/** Why a backend cannot run the vision variant it would get (ORT's WebGPU build and int8), so that the next one is tried. */
const refusesVisionVariant = (info: ModelInfo, options: ClipEdgeOptions) => (b: Backend): string | undefined => {
  if (options.visionTower || !b.runs) return undefined;
  let v: Precision;
  try {
    v = pickVariant(info, 'vision', options.visionVariant, b.preferred);
  } catch {
    return undefined; // a variant the folder lacks: said as such (MODEL_NOT_FOUND) once the backend is chosen
  }
  return b.runs.includes(v) ? undefined : `does not run the ${v} vision variant (it runs ${b.runs.join(', ')})`;
};

/**
 * Loads a model folder's metadata and picks backend and variants; sessions are created lazily.
 * This is wiring only: each job lives in its own module (label-resolver, class-matrices,
 * image-embedder, text-embedder, zeroshot, status).
 */
export async function createClipEdge(options: ClipEdgeOptions): Promise<ClipEdge> {
  const limits: ClipLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const info = await readModelInfo(options.source);
  const backend = await resolveBackend(options.backends, options.backend, refusesVisionVariant(info, options));
  const maxBatch = options.maxBatch ?? BATCH.maxBatch;
  const runnerOpts = { backend, source: options.source, info, verify: options.verify, requireIntegrity: options.requireIntegrity, inPlace: options.inPlace, maxBatch, maxQueue: options.maxQueue ?? BATCH.maxQueue };
  // A vision tower split across Workers runs elsewhere; otherwise it is loaded here.
  const vision: VisionTower = options.visionTower
    ? await options.visionTower(info)
    : new TowerRunner<VisionItem>({ ...runnerOpts, tower: 'vision', precision: pickVariant(info, 'vision', options.visionVariant, backend.preferred) });
  const wantText = options.text ?? true;
  let text: TextEmbedder | undefined;
  if (options.textEmbedder && options.text !== true) {
    text = await options.textEmbedder(info);
  } else if (wantText && availablePrecisions(info, 'text').length) {
    const precision = pickVariant(info, 'text', options.textVariant, ['fp32', ...backend.preferred]);
    text = await createTextEmbedder(options.source, info, new TowerRunner<TextItem>({ ...runnerOpts, tower: 'text', precision }));
  } else if (wantText && options.text === true) {
    throw new ClipEdgeError('MODEL_NOT_FOUND', `${info.id} has no text encoder (text tower requested)`);
  }
  const embedImage = createImageEmbedder({ info, vision, maxPixels: limits.maxPixels, imageCodecs: options.imageCodecs, imageDecode: options.imageDecode });
  const labels = createLabelResolver({ labelSets: options.labelSets, limits, defaultTemplates: info.defaultTemplates });
  const classEmbeddings = createClassMatrices({
    info,
    text,
    limits,
    batch: maxBatch * BATCH.promptBatchFactor,
    promptCache: options.promptCache,
    onCacheWriteError: options.onCacheWriteError,
    cacheBytes: options.classCacheBytes,
  });
  const head = <V>(variant: V) => ({ model: info.id, variant, backend: backend.name });

  return {
    info,
    backend,
    limits,
    hasText: text !== undefined,
    classEmbeddings,
    labelSet: labels.get,
    labelSetNames: labels.list,
    async buildPromptCache(set, o = {}) {
      const t = requireText(text, 'building a prompt cache');
      const matrix = await t.embedLabelSet(set, o.batch ?? 256, o.onProgress);
      return encodePromptCache(matrix, { labelSet: set, model: info.id, textEncoder: await t.meta(), dim: info.embedDim, dtype: o.dtype ?? 'float16' });
    },

    async classify(image, req, { signal } = {}) {
      const t0 = performance.now();
      throwIfAborted(signal);
      const set = await labels.resolve(req);
      const k = req.topK ?? TOP_K.classify;
      if (!Number.isInteger(k) || k < 1) throw new ClipEdgeError('BAD_INPUT', `topK must be a positive integer, got ${String(req.topK)}`);
      // Text and image work run side by side; a cached label set costs nothing here.
      const tText = performance.now();
      let textMs: number | undefined;
      const classesP = classEmbeddings(set).then((c) => ((textMs = since(tText)), c));
      classesP.catch(() => {}); // handled below; avoid an unhandled rejection if the image fails first
      const img = await embedImage(image, signal);
      const classes = await classesP;
      return {
        ...head({ vision: vision.precision, ...(text ? { text: text.precision } : {}) }),
        ...(req.labelSet ? { labelSet: req.labelSet } : {}),
        results: rankLabels(img.embedding, classes.matrix, set.labels, { dim: info.embedDim, scale: info.logitScale, k }),
        classes: { count: set.labels.length, source: classes.source },
        image: img.image,
        timings: { decodeMs: img.decodeMs, preprocessMs: img.preprocessMs, inferenceMs: img.inferenceMs, ...(textMs !== undefined ? { textMs } : {}), totalMs: since(t0) },
      };
    },

    async embedImage(image, { signal } = {}) {
      const t0 = performance.now();
      const r = await embedImage(image, signal);
      const timings = { decodeMs: r.decodeMs, preprocessMs: r.preprocessMs, inferenceMs: r.inferenceMs, totalMs: since(t0) };
      return { ...head(vision.precision), embedding: r.embedding, image: r.image, timings };
    },

    async embedText(texts, { signal } = {}) {
      const t0 = performance.now();
      throwIfAborted(signal);
      const t = requireText(text, 'embedding text');
      checkTexts(texts, limits);
      const r = await t.encode(texts, signal);
      const timings = { tokenizeMs: r.tokenizeMs, inferenceMs: r.inferenceMs, totalMs: since(t0) };
      return { ...head(t.precision), embeddings: r.out.map((e) => normalizeRows(e, info.embedDim)), truncated: r.truncated, timings };
    },

    status: () => clipEdgeStatus(info, backend, vision, text),
    codecMemoryBytes: () => embedImage.codecMemoryBytes(),
    codecMemoryPeakBytes: () => embedImage.codecMemoryPeakBytes(),
    async warmup(o = {}) {
      // Both load at once; a failure is reported vision first, so the error does not depend on timing.
      const loads = await Promise.allSettled([vision.load(), o.text === false ? undefined : text?.load(), embedImage.warmup()]);
      for (const r of loads) if (r.status === 'rejected') throw r.reason;
    },
    close: async () => void (await Promise.all([embedImage.close(), backend.close?.()])),
  };
}
