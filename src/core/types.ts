import type { Backend } from './backend.ts';
import type { DecodeExecutor, DecodePath, DeferredImageBytes } from './image/decoder.ts';
import type { ImageCodecWasm } from './image/wasm-codec.ts';
import type { LabelSet, LabelSetProvider } from './label-sets.ts';
import type { ClipLimits } from './limits.ts';
import type { ModelInfo } from './model/info.ts';
import type { ModelSource } from './model/source.ts';
import type { Precision } from './precision.ts';
import type { PromptCacheDtype, PromptCacheEntry } from './prompt-cache/format.ts';
import type { PromptCacheStore } from './prompt-cache/store.ts';
import type { TextEmbedder } from './text-embedder.ts';
import type { VisionTower } from './remote-vision.ts';

/** The public shapes of a ClipEdge: its options, requests, results and methods. */

/** How images are decoded on memory-capped runtimes (Workers). */
export interface ImageDecodeOptions {
  /**
   * Bytes one decode may hold: a number, or a function asked before each decode (e.g. what a
   * Workers isolate has left once the model is loaded: the vision session is then created and run
   * once before the first decode). @defaultValue no budget
   */
  budgetBytes?: number | (() => number);
  /** A JPEG over the budget may be decoded DCT-scaled. @defaultValue false */
  jpegScaling?: boolean;
  /** Where checked, admitted decodes run (Node: a pool of worker threads); see ImageDecoderOptions.executor. @defaultValue the calling thread */
  executor?: DecodeExecutor;
  /** Let the event loop run during a long streamed decode; see ImageDecoderOptions.yieldBetweenRows. @defaultValue true */
  yieldBetweenRows?: boolean;
  /** Decodes waiting for the budget poll for their turn (Workers); see ImageDecoderOptions.pollGrants. @defaultValue false */
  pollGrants?: boolean;
}

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
  /**
   * A text encoder that runs elsewhere (Workers: the text Worker over a service binding,
   * `createRemoteTextEmbedder`), used instead of loading the text tower here unless `text` is
   * `true`. @defaultValue none
   */
  textEmbedder?: (info: ModelInfo) => TextEmbedder | Promise<TextEmbedder>;
  /**
   * A vision tower that runs elsewhere (Workers: a chain of part Workers over service bindings,
   * `createRemoteVision`), used instead of loading the vision tower here. @defaultValue none
   */
  visionTower?: (info: ModelInfo) => VisionTower | Promise<VisionTower>;
  /** How the runtime provides the image codecs' WebAssembly. */
  imageCodecs?: ImageCodecWasm;
  /**
   * Memory-capped runtimes (Workers): bytes one image decode may hold, and whether a JPEG too
   * large for it may be decoded DCT-scaled (needs `imageCodecs.jpegTurbo`; the result's
   * `image.decode` says so). See ImageDecoderOptions. @defaultValue no budget, exact only
   */
  imageDecode?: ImageDecodeOptions;
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

/**
 * Whether the backend can run now: `ready`; `restarting` (Node, Deno, Bun: the inference thread
 * crashed, its sessions are gone, and the next call starts a new one, not before `restartInMs`);
 * `down` (it crashed too often and stays down until the process restarts).
 */
export type BackendState = 'ready' | 'restarting' | 'down';

export interface ClipEdgeStatus {
  id: string;
  backend: string;
  backendState: BackendState;
  /** With `backendState: 'restarting'`: ms left of the restart's back-off (0: the next call restarts it at once). */
  restartInMs?: number;
  embedDim: number;
  contextLength: number;
  imageSize: { height: number; width: number };
  logitScale: number;
  variants: Record<string, { vision?: { file: string; bytes?: number }; text?: { file: string; bytes?: number } }>;
  /** `inPlace`: the tower's ORT-format form is (to be) loaded in place (weights used from the streamed bytes). */
  active: { vision: { variant: Precision; loaded: boolean; inPlace?: true; parts?: number }; text?: { variant: Precision; loaded: boolean; inPlace?: true; remote?: true } };
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

export interface ClipEdge {
  readonly info: ModelInfo;
  readonly backend: Backend;
  readonly limits: Readonly<ClipLimits>;
  readonly hasText: boolean;
  /** `image`: its bytes, or a function that reads them (called when the image's decode turn comes: see DeferredImageBytes). */
  classify(image: Uint8Array | DeferredImageBytes, request: ClassifyRequest, options?: CallOptions): Promise<ClassifyResult>;
  embedImage(image: Uint8Array | DeferredImageBytes, options?: CallOptions): Promise<ImageEmbedding>;
  embedText(texts: readonly string[], options?: CallOptions): Promise<TextEmbeddings>;
  /** The [K, D] normalised class matrix of a label set: from memory, the prompt cache, or the text encoder. */
  classEmbeddings(set: LabelSet): Promise<{ matrix: Float32Array; source: ClassSource }>;
  /** Embeds a label set with the loaded text tower and returns a prompt-cache entry (the builder's core). */
  buildPromptCache(set: LabelSet, options?: { dtype?: PromptCacheDtype; batch?: number; onProgress?: (done: number, total: number) => void }): Promise<PromptCacheEntry>;
  /** Resolves a label set by name (the same lookup as `labelSet=` requests). */
  labelSet(name: string): Promise<LabelSet>;
  labelSetNames(): Promise<string[]>;
  status(): ClipEdgeStatus;
  /** Wasm memory of the image decoder's codec instances alive now, in use and kept idle (bytes). */
  codecMemoryBytes(): number;
  /** The most {@link codecMemoryBytes} reached since the previous call (bytes): each decode's instance at its largest. */
  codecMemoryPeakBytes(): number;
  /** Creates the sessions now instead of on the first request (`{ text: false }`: the vision tower only). */
  warmup(options?: { text?: boolean }): Promise<void>;
  /**
   * Ends what the instance holds outside the JS heap that would outlive it: on Node, Deno and Bun,
   * its image decode threads and its inference thread. Later image calls are refused. Servers call it when they close.
   */
  close(): Promise<void>;
}
