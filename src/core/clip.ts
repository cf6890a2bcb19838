import { type Backend, resolveBackend } from './backend.ts';
import { ClipEdgeError } from './errors.ts';
import { type DecodePath, createImageDecoder } from './image/decoder.ts';
import type { ImageCodecWasm } from './image/wasm-codec.ts';
import { clipNormalize } from './image/preprocess.ts';
import { type LabelSet, type LabelSetProvider, LABEL_SET_NAME, expandPrompts, makeLabelSet } from './label-sets.ts';
import { type ModelInfo, availablePrecisions, readModelInfo } from './model/info.ts';
import { sha256Hex } from './model/integrity.ts';
import { type PromptCacheDtype, type PromptCacheEntry, decodePromptCache, encodePromptCache } from './prompt-cache/format.ts';
import type { PromptCacheStore } from './prompt-cache/store.ts';
import type { ModelSource } from './model/source.ts';
import { type Precision, type Tower, isPrecision } from './precision.ts';
import { type ClipTokenizer, createClipTokenizer } from './tokenizer.ts';
import { type TextItem, TowerRunner, type VisionItem } from './tower.ts';
import { ensemble, logits, normalizeRows, softmax, topK } from './zeroshot.ts';

/** Request-size limits, enforced before any expensive work. */
export interface ClipLimits {
  /** Decoded image size; checked from the header before decoding. @defaultValue 40_000_000 */
  maxPixels: number;
  /** Inline labels per request. @defaultValue 256 */
  maxLabels: number;
  /** Characters per label. @defaultValue 200 */
  maxLabelLength: number;
  /** Templates per request. @defaultValue 32 */
  maxTemplates: number;
  /** Texts per /embed/text request. @defaultValue 64 */
  maxTexts: number;
  /** Characters per text. @defaultValue 2000 */
  maxTextLength: number;
  /** Classes of a stored label set. @defaultValue 1000 */
  maxLabelSetClasses: number;
  /** Prompts (classes × synonyms × templates) a request may have embedded when its set is not cached. @defaultValue 2048 */
  maxPrompts: number;
}

export const DEFAULT_LIMITS: Readonly<ClipLimits> = Object.freeze({
  maxPixels: 40_000_000,
  maxLabels: 256,
  maxLabelLength: 200,
  maxTemplates: 32,
  maxTexts: 64,
  maxTextLength: 2000,
  maxLabelSetClasses: 1000,
  maxPrompts: 2048,
});

export interface ClipEdgeOptions {
  /** The model folder (Hugging Face / Optimum layout). */
  source: ModelSource;
  /** Inference backends this runtime offers; the highest priority that starts is used. */
  backends: readonly Backend[];
  /** Name of the backend to use. @defaultValue 'auto' */
  backend?: string;
  /** Vision variant; `auto` takes the backend's preferred one that the folder has. @defaultValue 'auto' */
  visionVariant?: Precision | 'auto';
  /** Text variant; `auto` takes fp32 when present (prompts are embedded rarely, accuracy first). @defaultValue 'auto' */
  textVariant?: Precision | 'auto';
  /** Load the text tower: needed for inline labels and text embeddings. @defaultValue true */
  text?: boolean;
  /** How the runtime provides the image codecs' WebAssembly. */
  imageCodecs?: ImageCodecWasm;
  /**
   * Memory-capped runtimes (Workers): bytes one image decode may hold, and whether a JPEG too
   * large for it may be decoded DCT-scaled (needs `imageCodecs.jpegTurbo`; the result's
   * `image.decode` says so). See ImageDecoderOptions. @defaultValue no budget, exact only
   */
  imageDecode?: {
    /**
     * A number, or a function asked before each decode (e.g. what a Workers isolate has left once
     * the model is loaded: the vision session is then created before the first decode).
     */
    budgetBytes?: number | (() => number);
    jpegScaling?: boolean;
  };
  /** Named label sets (`labelSet=` requests). */
  labelSets?: LabelSetProvider;
  limits?: Partial<ClipLimits>;
  /** Check ONNX files against the manifest's size and sha256 before loading. @defaultValue true */
  verify?: boolean;
  /**
   * Refuse ONNX files without a sha256 in the manifest (a folder without manifest.json has none).
   * @defaultValue false; true on Workers, where models come from a bucket the upload script fills
   */
  requireIntegrity?: boolean;
  /**
   * Load a variant's ORT-format form (`variants.<p>.<tower>.ort` in the manifest) in place when the
   * backend can (onnxruntime-web backends built with `inPlace`): the weights stay in the streamed
   * bytes, ~1.0× the file in memory instead of ~2.2×. @defaultValue true
   */
  inPlace?: boolean;
  /** Most images (or prompts) per inference run when requests are micro-batched. @defaultValue 16 */
  maxBatch?: number;
  /** Items allowed to wait per tower before OVERLOADED. @defaultValue 256 */
  maxQueue?: number;
  /** Bytes of class-embedding matrices kept in memory per isolate (LRU). @defaultValue 32 MiB */
  classCacheBytes?: number;
  /**
   * The shared prompt cache: precomputed label sets are read from it (no text encoder needed), and
   * inline labels embedded here are written back to it, so the next request anywhere is free.
   */
  promptCache?: PromptCacheStore;
  /** Called when writing back to the prompt cache fails (the request still succeeds). @defaultValue console.warn */
  onCacheWriteError?: (err: unknown) => void;
}

/** Where a request's class embeddings came from. */
export type ClassSource = 'memory' | 'prompt-cache' | 'text-encoder';

export interface ClassifyRequest {
  /** Inline class names (each read through the templates). */
  labels?: readonly string[];
  /** Name of a stored label set. */
  labelSet?: string;
  /** Templates with `{}`; default: the label set's, or the model's default templates. */
  templates?: readonly string[];
  /** @defaultValue 5 */
  topK?: number;
}

export interface Timings {
  decodeMs: number;
  preprocessMs: number;
  inferenceMs: number;
  textMs?: number;
  totalMs: number;
}

/** The image as sent (upright size) and how it was decoded: `exact` (PIL's pixels) or DCT-scaled (`dct-1/8`, ...). */
export interface ImageInfo {
  width: number;
  height: number;
  decode: DecodePath;
}

export interface ClassifyResult {
  model: string;
  variant: { vision: Precision; text?: Precision };
  backend: string;
  labelSet?: string;
  /** Best first; `score` is the softmax probability over all classes. */
  results: { label: string; score: number; logit: number }[];
  classes: { count: number; source: ClassSource };
  image: ImageInfo;
  timings: Timings;
}

export interface ImageEmbedding {
  model: string;
  variant: Precision;
  backend: string;
  /** L2-normalised. */
  embedding: Float32Array;
  image: ImageInfo;
  timings: Timings;
}

export interface TextEmbeddings {
  model: string;
  variant: Precision;
  backend: string;
  /** L2-normalised, one per text. */
  embeddings: Float32Array[];
  truncated: readonly boolean[];
  timings: { tokenizeMs: number; inferenceMs: number; totalMs: number };
}

export interface ClipEdgeStatus {
  id: string;
  backend: string;
  embedDim: number;
  contextLength: number;
  imageSize: { height: number; width: number };
  logitScale: number;
  variants: Record<string, { vision?: { file: string; bytes?: number }; text?: { file: string; bytes?: number } }>;
  /** `inPlace`: the tower's ORT-format form is (to be) loaded in place (weights used from the streamed bytes). */
  active: { vision: { variant: Precision; loaded: boolean; inPlace?: true }; text?: { variant: Precision; loaded: boolean; inPlace?: true } };
  license?: string;
  description?: string;
}

/** Per-call options of the request methods. */
export interface CallOptions {
  /**
   * Aborts the call: work still waiting in an inference queue is dropped (it never runs), and the
   * call rejects with the signal's reason (a ClipEdgeError such as TIMEOUT) or CANCELLED.
   */
  signal?: AbortSignal;
}

/** Throws when the signal has aborted: a ClipEdgeError reason as is, anything else as CANCELLED. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  if (signal.reason instanceof ClipEdgeError) throw signal.reason;
  throw new ClipEdgeError('CANCELLED', 'the request was cancelled');
}

export interface ClipEdge {
  readonly info: ModelInfo;
  readonly backend: Backend;
  readonly limits: Readonly<ClipLimits>;
  readonly hasText: boolean;
  classify(image: Uint8Array, request: ClassifyRequest, options?: CallOptions): Promise<ClassifyResult>;
  embedImage(image: Uint8Array, options?: CallOptions): Promise<ImageEmbedding>;
  embedText(texts: readonly string[], options?: CallOptions): Promise<TextEmbeddings>;
  /** The [K, D] normalised class matrix of a label set: from memory, the prompt cache, or the text encoder. */
  classEmbeddings(set: LabelSet): Promise<{ matrix: Float32Array; source: ClassSource }>;
  /** Embeds a label set with the loaded text tower and returns a prompt-cache entry (the builder's core). */
  buildPromptCache(set: LabelSet, options?: { dtype?: PromptCacheDtype; batch?: number; onProgress?: (done: number, total: number) => void }): Promise<PromptCacheEntry>;
  /** Resolves a label set by name (the same lookup as `labelSet=` requests). */
  labelSet(name: string): Promise<LabelSet>;
  labelSetNames(): Promise<string[]>;
  status(): ClipEdgeStatus;
  /** Wasm memory of the image decoder's JPEG codec (bytes; under a decode budget its high-water mark, the instance being kept). */
  codecMemoryBytes(): number;
  /** Creates the sessions now instead of on the first request (`{ text: false }`: the vision tower only). */
  warmup(options?: { text?: boolean }): Promise<void>;
}

function pickVariant(info: ModelInfo, tower: Tower, wanted: Precision | 'auto' | undefined, order: readonly Precision[]): Precision {
  const have = availablePrecisions(info, tower);
  if (wanted && wanted !== 'auto') {
    if (!isPrecision(wanted)) throw new ClipEdgeError('BAD_INPUT', `unknown variant "${wanted}"`);
    if (!have.includes(wanted)) {
      throw new ClipEdgeError('MODEL_NOT_FOUND', `${info.id} has no ${wanted} ${tower} encoder (available: ${have.join(', ') || 'none'})`);
    }
    return wanted;
  }
  const pick = order.find((p) => have.includes(p)) ?? have[0];
  if (!pick) throw new ClipEdgeError('MODEL_NOT_FOUND', `${info.id} has no ${tower} encoder`);
  return pick;
}

async function readJsonFile(source: ModelSource, path: string, required: boolean): Promise<Record<string, unknown> | undefined> {
  const bytes = await source.read(path);
  if (!bytes) {
    if (required) throw new ClipEdgeError('MODEL_INVALID', `${source.name}/${path} is missing (needed by the text tower)`);
    return undefined;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch (cause) {
    throw new ClipEdgeError('MODEL_INVALID', `${source.name}/${path} is not valid JSON`, { cause });
  }
}

const since = (t: number) => performance.now() - t;

/** Loads a model folder's metadata and picks backend and variants; sessions are created lazily. */
export async function createClipEdge(options: ClipEdgeOptions): Promise<ClipEdge> {
  const limits: ClipLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const info = await readModelInfo(options.source);
  const backend = await resolveBackend(options.backends, options.backend);
  const runnerOpts = {
    backend,
    source: options.source,
    info,
    verify: options.verify,
    requireIntegrity: options.requireIntegrity,
    inPlace: options.inPlace,
    maxBatch: options.maxBatch ?? 16,
    maxQueue: options.maxQueue ?? 256,
  };
  const vision = new TowerRunner<VisionItem>({
    ...runnerOpts,
    tower: 'vision',
    precision: pickVariant(info, 'vision', options.visionVariant, backend.preferred),
  });
  const wantText = options.text ?? true;
  let text: TowerRunner<TextItem> | undefined;
  let tokenizer: ClipTokenizer | undefined;
  if (wantText && availablePrecisions(info, 'text').length) {
    text = new TowerRunner<TextItem>({
      ...runnerOpts,
      tower: 'text',
      precision: pickVariant(info, 'text', options.textVariant, ['fp32', ...backend.preferred]),
    });
    const [tokJson, tokCfg] = await Promise.all([
      readJsonFile(options.source, 'tokenizer.json', true),
      readJsonFile(options.source, 'tokenizer_config.json', false),
    ]);
    tokenizer = createClipTokenizer(tokJson, tokCfg ?? {}, { contextLength: info.contextLength });
  } else if (wantText && options.text === true) {
    throw new ClipEdgeError('MODEL_NOT_FOUND', `${info.id} has no text encoder (text tower requested)`);
  }
  const decoder = createImageDecoder({
    wasm: options.imageCodecs,
    maxPixels: limits.maxPixels,
    ...(options.imageDecode?.budgetBytes !== undefined ? { decodeBudgetBytes: options.imageDecode.budgetBytes } : {}),
    jpegScaling: options.imageDecode?.jpegScaling ?? false,
  });
  // Per-isolate LRU of class matrices, bounded in bytes (ImageNet at D=512 is 2 MB).
  const classCache = new Map<string, { matrix: Promise<Float32Array>; bytes: number }>();
  const classCacheBytes = options.classCacheBytes ?? 32 * 1024 * 1024;
  let classCacheUsed = 0;
  const evictClasses = () => {
    for (const [k, v] of classCache) {
      if (classCacheUsed <= classCacheBytes) break;
      classCache.delete(k);
      classCacheUsed -= v.bytes;
    }
  };
  const dim = info.embedDim;

  const requireText = (why: string) => {
    if (!text || !tokenizer) {
      throw new ClipEdgeError(
        'TEXT_ENCODER_UNAVAILABLE',
        `${why} needs the text encoder, which this deployment does not load; use a precomputed labelSet, or enable the text tower`,
      );
    }
    return { text, tokenizer };
  };

  const encodeTexts = async (texts: readonly string[], signal?: AbortSignal) => {
    const { text: t, tokenizer: tok } = requireText('encoding text');
    const t0 = performance.now();
    const batch = tok.encodeBatch(texts);
    const ctx = batch.contextLength;
    const items: TextItem[] = texts.map((_, i) => ({
      ids: batch.inputIds.subarray(i * ctx, (i + 1) * ctx),
      mask: batch.attentionMask.subarray(i * ctx, (i + 1) * ctx),
    }));
    const tokenizeMs = since(t0);
    const t1 = performance.now();
    const out = await t.run(items, signal);
    return { out, truncated: batch.truncated, tokenizeMs, inferenceMs: since(t1) };
  };

  const embedPrompts = async (set: LabelSet, batch = runnerOpts.maxBatch * 4, onProgress?: (done: number, total: number) => void) => {
    const { texts, groups } = expandPrompts(set);
    const flat = new Float32Array(texts.length * dim);
    for (let i = 0; i < texts.length; i += batch) {
      const { out } = await encodeTexts(texts.slice(i, i + batch));
      out.forEach((e, j) => flat.set(e, (i + j) * dim));
      onProgress?.(Math.min(i + batch, texts.length), texts.length);
    }
    return ensemble(flat, dim, groups);
  };

  /** sha256 of every text encoder of this model that may have built a cache. */
  const knownTextShas = async (): Promise<string[]> => {
    const shas = Object.values(info.variants).map((t) => t?.text?.sha256).filter((x): x is string => !!x);
    if (text) shas.push(await text.sha256());
    return shas;
  };

  const textEncoderMeta = async () => ({ file: text!.file, precision: text!.precision, sha256: await text!.sha256() });

  const classEmbeddings = (set: LabelSet): Promise<{ matrix: Float32Array; source: ClassSource }> => {
    const memKey = JSON.stringify([set.synonyms, set.templates]);
    const hit = classCache.get(memKey);
    if (hit) {
      classCache.delete(memKey); // refresh LRU position
      classCache.set(memKey, hit);
      return hit.matrix.then((matrix) => ({ matrix, source: 'memory' as const }));
    }
    let source: ClassSource = 'text-encoder';
    const p = (async () => {
      const storeKey = set.name === 'inline' ? `inline-${(await sha256Hex(new TextEncoder().encode(memKey))).slice(0, 40)}` : set.name;
      let staleReason = '';
      const store = options.promptCache;
      if (store) {
        // Every tier's entry, first valid wins: a stale per-user copy must not hide a valid shipped one.
        const entries = await (store.getAll ? store.getAll(storeKey) : store.get(storeKey).then((e) => (e ? [e] : []))).catch(() => {
          staleReason = 'the cached entry could not be read'; // the store's own error may name server paths
          return [];
        });
        for (const entry of entries) {
          try {
            const matrix = await decodePromptCache(entry, { labelSet: set, dim, textEncoderSha256: await knownTextShas() });
            source = 'prompt-cache';
            return matrix;
          } catch (e) {
            staleReason = e instanceof Error ? e.message : String(e);
          }
        }
      }
      if (!text) {
        const what = set.name === 'inline' ? 'these labels have' : `label set "${set.name}" has`;
        throw new ClipEdgeError(
          'TEXT_ENCODER_UNAVAILABLE',
          `${what} no valid precomputed prompt cache${staleReason ? ` (${staleReason})` : ''} and this deployment has no text encoder; ` +
            `build it with: clip-edge prompts build --model <model-dir> --labels ${set.name === 'inline' ? '<labels.json>' : set.name}`,
        );
      }
      const prompts = set.synonyms.reduce((n, names) => n + names.length, 0) * set.templates.length;
      if (prompts > limits.maxPrompts) {
        throw new ClipEdgeError(
          'TOO_MANY_LABELS',
          `${set.name === 'inline' ? 'these labels and templates need' : `label set "${set.name}" needs`} ${prompts} prompts embedded; ` +
            `the limit per request is ${limits.maxPrompts} (precompute it with: clip-edge prompts build)`,
        );
      }
      const matrix = await embedPrompts(set);
      if (store) {
        // Write back so the next request anywhere is free; a failed write costs only this benefit.
        const entry = await encodePromptCache(matrix, { labelSet: set, model: info.id, textEncoder: await textEncoderMeta(), dim, dtype: 'float32' });
        await store.put(storeKey, entry).catch(options.onCacheWriteError ?? ((e: unknown) => console.warn(`[clip-edge] prompt cache write failed: ${String(e)}`)));
      }
      return matrix;
    })();
    const slot = { matrix: p, bytes: 0 };
    classCache.set(memKey, slot);
    p.then(
      (m) => {
        if (classCache.get(memKey) !== slot) return;
        slot.bytes = m.byteLength;
        classCacheUsed += m.byteLength;
        evictClasses();
      },
      () => {
        if (classCache.get(memKey) === slot) classCache.delete(memKey);
      },
    );
    return p.then((matrix) => ({ matrix, source }));
  };

  const budgetFollowsModel = typeof options.imageDecode?.budgetBytes === 'function';
  let modelSettled: Promise<unknown> | undefined;
  const settleModel = async () => {
    await vision.load();
    await vision.run([new Float32Array(3 * info.preprocess.cropHeight * info.preprocess.cropWidth)]);
  };
  const imageToEmbedding = async (bytes: Uint8Array, signal?: AbortSignal) => {
    throwIfAborted(signal);
    // The budget is what the model leaves: measure it with the model loaded and run once (its heap may grow on the first run).
    if (budgetFollowsModel) {
      await (modelSettled ??= settleModel().catch((e) => {
        modelSettled = undefined;
        throw e;
      }));
    }
    const img = await decoder.decodeForClip(bytes, info.preprocess);
    throwIfAborted(signal);
    const decodeMs = img.ms.decode;
    const t1 = performance.now();
    const pixels = clipNormalize(img.crop, info.preprocess);
    const preprocessMs = img.ms.resize + since(t1);
    const t2 = performance.now();
    const [emb] = await vision.run([pixels], signal);
    const inferenceMs = since(t2);
    return {
      embedding: normalizeRows(emb!, dim),
      image: { width: img.width, height: img.height, decode: img.decode },
      decodeMs,
      preprocessMs,
      inferenceMs,
    };
  };

  const getLabelSet = async (name: string): Promise<LabelSet> => {
    if (!LABEL_SET_NAME.test(name) || name === 'inline') throw new ClipEdgeError('BAD_INPUT', 'labelSet must be a name of letters, digits, ".", "_" or "-"');
    const set = await options.labelSets?.get(name).catch((cause: unknown) => {
      throw new ClipEdgeError('MODEL_INVALID', `label set "${name}" is invalid on the server`, { cause });
    });
    if (!set) {
      const known = (await options.labelSets?.list()) ?? [];
      throw new ClipEdgeError('UNKNOWN_LABEL_SET', `unknown label set "${name}"; known: ${known.join(', ') || 'none'}`);
    }
    return set;
  };

  const resolveLabels = async (req: ClassifyRequest): Promise<LabelSet> => {
    if (req.templates !== undefined && req.templates.length > limits.maxTemplates) {
      throw new ClipEdgeError('BAD_INPUT', `${req.templates.length} templates given; the limit is ${limits.maxTemplates}`);
    }
    if (req.labelSet !== undefined && req.labels !== undefined) {
      throw new ClipEdgeError('BAD_INPUT', 'give either labels or labelSet, not both');
    }
    if (req.labelSet !== undefined) {
      const set = await getLabelSet(req.labelSet);
      // Other templates make another set: it must not be stored under the named set's key.
      return req.templates ? makeLabelSet('inline', set.synonyms, req.templates, { maxLabels: limits.maxLabelSetClasses, allowDuplicates: true }) : set;
    }
    if (req.labels === undefined) throw new ClipEdgeError('BAD_INPUT', 'give labels (class names) or labelSet');
    if (req.labels.length > limits.maxLabels) {
      throw new ClipEdgeError('TOO_MANY_LABELS', `${req.labels.length} labels given; the limit is ${limits.maxLabels}`);
    }
    return makeLabelSet('inline', req.labels, req.templates ?? info.defaultTemplates, {
      maxLabels: limits.maxLabels,
      maxLabelLength: limits.maxLabelLength,
      maxTemplates: limits.maxTemplates,
    });
  };

  return {
    info,
    backend,
    limits,
    hasText: text !== undefined,
    classEmbeddings,
    labelSet: getLabelSet,
    async buildPromptCache(set, o = {}) {
      requireText('building a prompt cache');
      const matrix = await embedPrompts(set, o.batch ?? 256, o.onProgress);
      return encodePromptCache(matrix, { labelSet: set, model: info.id, textEncoder: await textEncoderMeta(), dim, dtype: o.dtype ?? 'float16' });
    },
    labelSetNames: async () => (await options.labelSets?.list()) ?? [],

    async classify(image, req, { signal } = {}) {
      const t0 = performance.now();
      throwIfAborted(signal);
      const set = await resolveLabels(req);
      const k = req.topK ?? 5;
      if (!Number.isInteger(k) || k < 1) throw new ClipEdgeError('BAD_INPUT', `topK must be a positive integer, got ${String(req.topK)}`);
      // Text and image work run side by side; a cached label set costs nothing here.
      const tText = performance.now();
      let textMs: number | undefined;
      const classesP = classEmbeddings(set).then((c) => {
        textMs = since(tText);
        return c;
      });
      classesP.catch(() => {}); // handled below; avoid an unhandled rejection if the image fails first
      const img = await imageToEmbedding(image, signal);
      const classes = await classesP;
      const lg = logits(img.embedding, classes.matrix, dim, info.logitScale);
      const probs = softmax(lg);
      const results = topK(probs, k).map((i) => ({ label: set.labels[i]!, score: probs[i]!, logit: lg[i]! }));
      return {
        model: info.id,
        variant: { vision: vision.precision, ...(text ? { text: text.precision } : {}) },
        backend: backend.name,
        ...(req.labelSet ? { labelSet: req.labelSet } : {}),
        results,
        classes: { count: set.labels.length, source: classes.source },
        image: img.image,
        timings: {
          decodeMs: img.decodeMs,
          preprocessMs: img.preprocessMs,
          inferenceMs: img.inferenceMs,
          ...(textMs !== undefined ? { textMs } : {}),
          totalMs: since(t0),
        },
      };
    },

    async embedImage(image, { signal } = {}) {
      const t0 = performance.now();
      const r = await imageToEmbedding(image, signal);
      return {
        model: info.id,
        variant: vision.precision,
        backend: backend.name,
        embedding: r.embedding,
        image: r.image,
        timings: { decodeMs: r.decodeMs, preprocessMs: r.preprocessMs, inferenceMs: r.inferenceMs, totalMs: since(t0) },
      };
    },

    async embedText(texts, { signal } = {}) {
      const t0 = performance.now();
      throwIfAborted(signal);
      const { text: t } = requireText('embedding text');
      if (!Array.isArray(texts) || texts.length === 0) throw new ClipEdgeError('BAD_INPUT', 'texts must be a non-empty array of strings');
      if (texts.length > limits.maxTexts) throw new ClipEdgeError('BAD_INPUT', `${texts.length} texts given; the limit is ${limits.maxTexts}`);
      texts.forEach((s, i) => {
        if (typeof s !== 'string') throw new ClipEdgeError('BAD_INPUT', `texts[${i}] must be a string`);
        if (s.length > limits.maxTextLength) {
          throw new ClipEdgeError('BAD_INPUT', `texts[${i}] has ${s.length} characters; the limit is ${limits.maxTextLength}`);
        }
      });
      const r = await encodeTexts(texts, signal);
      return {
        model: info.id,
        variant: t.precision,
        backend: backend.name,
        embeddings: r.out.map((e) => normalizeRows(e, dim)),
        truncated: r.truncated,
        timings: { tokenizeMs: r.tokenizeMs, inferenceMs: r.inferenceMs, totalMs: since(t0) },
      };
    },

    codecMemoryBytes: () => decoder.jpegCodecMemoryBytes(),

    status() {
      const variants: ClipEdgeStatus['variants'] = {};
      for (const [p, towers] of Object.entries(info.variants)) {
        variants[p] = Object.fromEntries(
          Object.entries(towers ?? {}).map(([tw, f]) => [tw, { file: f.file, ...(f.bytes !== undefined ? { bytes: f.bytes } : {}) }]),
        );
      }
      return {
        id: info.id,
        backend: backend.name,
        embedDim: dim,
        contextLength: info.contextLength,
        imageSize: { height: info.preprocess.cropHeight, width: info.preprocess.cropWidth },
        logitScale: info.logitScale,
        variants,
        active: {
          vision: { variant: vision.precision, loaded: vision.loaded, ...(vision.inPlace ? { inPlace: true as const } : {}) },
          ...(text ? { text: { variant: text.precision, loaded: text.loaded, ...(text.inPlace ? { inPlace: true as const } : {}) } } : {}),
        },
        ...(info.license ? { license: info.license } : {}),
        ...(info.description ? { description: info.description } : {}),
      };
    },

    async warmup(o = {}) {
      await Promise.all([vision.load(), o.text === false ? undefined : text?.load()]);
    },
  };
}
