import type { VectorizeBinding } from '../../search/drivers/cloudflare-vectorize-binding.ts';
import type { TextService } from '../../core/remote-text.ts';
import type { VisionPartService } from '../../core/vision-parts.ts';
import type { DeadLetter, QueueProducerLike } from './index-queue.ts';

/**
 * The slices of the Workers binding APIs this adapter uses, typed here so that the package does
 * not pull `@cloudflare/workers-types` into every runtime's type check. Real bindings (and
 * Miniflare's) satisfy them structurally.
 */

export interface R2ObjectLike {
  readonly key: string;
  readonly size: number;
}

export interface R2ObjectBodyLike extends R2ObjectLike {
  arrayBuffer(): Promise<ArrayBuffer>;
  /** The object's bytes as a stream (in-place model loading reads it chunk by chunk). */
  readonly body?: ReadableStream<Uint8Array>;
}

export interface R2BucketLike {
  get(key: string): Promise<R2ObjectBodyLike | null>;
  head(key: string): Promise<R2ObjectLike | null>;
  put(key: string, value: ArrayBuffer | ArrayBufferView | string): Promise<unknown>;
  delete(key: string | string[]): Promise<void>;
  list(options?: { prefix?: string; cursor?: string; limit?: number }): Promise<{
    objects: R2ObjectLike[];
    truncated: boolean;
    cursor?: string;
  }>;
}

export interface KVNamespaceLike {
  get(key: string, type: 'arrayBuffer'): Promise<ArrayBuffer | null>;
  put(key: string, value: ArrayBuffer | ArrayBufferView | string): Promise<void>;
  delete(key: string): Promise<void>;
  list(options?: { prefix?: string; cursor?: string; limit?: number }): Promise<{
    keys: { name: string }[];
    list_complete: boolean;
    cursor?: string;
  }>;
}

/** A service binding such as `ASSETS` (static assets): a fetch that never leaves Cloudflare. */
export interface FetcherLike {
  fetch(input: Request | string, init?: RequestInit): Promise<Response>;
}

/** Cloudflare's Rate Limiting binding (`[[ratelimits]]`, `simple = { limit, period }`). */
export interface RateLimitBindingLike {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/** Bindings and vars of the Worker (wrangler.toml). Every field is optional so that a missing one gets a clear error. */
export interface WorkersEnv {
  /** Search: a Vectorize index (`[[vectorize]]`, dimensions = the model's, metric cosine). Enables /v1/index and /v1/search. */
  VECTORIZE?: VectorizeBinding;
  /** Bulk indexing: the R2 bucket whose keys the index queue carries. */
  IMAGES?: R2BucketLike;
  /** Bulk indexing: the dead-letter queue bound as a producer (permanent failures are sent there). */
  INDEX_DLQ?: QueueProducerLike<DeadLetter>;
  /** R2 bucket holding model folders under `<model id>/…`. */
  MODELS?: R2BucketLike;
  /** KV namespace holding prompt caches under `<model id>/<label set>` (packed blobs). */
  PROMPTS?: KVNamespaceLike;
  /** Static assets (the browser page; optionally small models under `/models/<id>/…`). */
  ASSETS?: FetcherLike;
  /** Model id: the folder name in R2 (or under `/models/` in static assets). */
  CLIP_EDGE_MODEL?: string;
  /** Where the model folder lives: `r2` (default when MODELS is bound) or `assets`. */
  CLIP_EDGE_MODEL_SOURCE?: string;
  /**
   * `false` loads the `.onnx` variant even when the manifest lists its ORT-format form (loaded in
   * place by default: the weights stay in the streamed bytes). @defaultValue true
   */
  CLIP_EDGE_IN_PLACE?: string;
  /** Vision variant, `auto` by default (int8 when the folder has it, else fp32). */
  CLIP_EDGE_VARIANT?: string;
  CLIP_EDGE_TEXT_VARIANT?: string;
  /** `true` loads the text tower in this Worker too (small models only; wins over TEXT). @defaultValue false */
  CLIP_EDGE_TEXT?: string;
  /**
   * The text Worker (`[[services]] binding = "TEXT", service = "clip-edge-text", entrypoint = "TextTower"`):
   * inline labels, /v1/embed/text and text search, its rows cached in PROMPTS. Without it (and without
   * CLIP_EDGE_TEXT) those answer 422 TEXT_ENCODER_UNAVAILABLE.
   */
  TEXT?: TextService;
  /** The text Worker: prompts per text-tower run (memory: activations stay in ORT's wasm heap). @defaultValue 8 */
  CLIP_EDGE_TEXT_RUN_BATCH?: string;
  /** Milliseconds to wait for the text Worker before 503 TEXT_ENCODER_DOWN. @defaultValue 15000 */
  CLIP_EDGE_TEXT_TIMEOUT_MS?: string;
  /**
   * The vision tower split across Workers (`clip-edge quantize --split`): part 1's Worker
   * (`[[services]] binding = "VISION_PARTS", service = "clip-edge-vision-part-1", entrypoint = "VisionPart"`).
   * With it this Worker decodes and preprocesses only; the chain of parts computes the embedding.
   */
  VISION_PARTS?: VisionPartService;
  /** A part Worker's next part (`[[services]] binding = "NEXT_PART"`); the last part has none. */
  NEXT_PART?: VisionPartService;
  /** A part Worker's part, 1-based (wrangler.vision-part.toml). */
  CLIP_EDGE_VISION_PART?: string;
  /** Milliseconds to wait for the rest of the part chain before 503 VISION_TOWER_DOWN. @defaultValue 30000 */
  CLIP_EDGE_VISION_TIMEOUT_MS?: string;
  /** Secret (`wrangler secret put API_KEY`): bearer key required on every route but /healthz. */
  API_KEY?: string;
  CLIP_EDGE_CORS_ORIGINS?: string;
  CLIP_EDGE_MAX_BODY_BYTES?: string;
  CLIP_EDGE_MAX_PIXELS?: string;
  /**
   * MB one image decode may hold (codec memory + copies), or `auto`: what the 128 MB isolate has
   * left once the model is loaded (minus JS heap and body pool), at most 48. @defaultValue auto
   */
  CLIP_EDGE_DECODE_BUDGET_MB?: string;
  /** MB of image request bodies held at once; more requests wait their turn. @defaultValue 8 */
  CLIP_EDGE_BODY_MEMORY_MB?: string;
  /** `false` refuses JPEGs over the decode budget instead of decoding them DCT-scaled. @defaultValue true */
  CLIP_EDGE_JPEG_SCALING?: string;
  CLIP_EDGE_MAX_LABELS?: string;
  CLIP_EDGE_MAX_TEXTS?: string;
  CLIP_EDGE_MAX_TEXT_LENGTH?: string;
  /** Optional Rate Limiting binding: network-wide per-key limits (429). Without it, `CLIP_EDGE_RATE_LIMIT` counts per isolate. */
  RATE_LIMITER?: RateLimitBindingLike;
  /** The binding's period in seconds (10 or 60), sent as `Retry-After`. @defaultValue 60 */
  CLIP_EDGE_RATE_LIMIT_PERIOD?: string;
  /** Requests per minute per API key (or per client address without keys), counted per isolate. */
  CLIP_EDGE_RATE_LIMIT?: string;
  /** POST requests at work at once per isolate before 503 OVERLOADED. @defaultValue 64 */
  CLIP_EDGE_MAX_IN_FLIGHT?: string;
  /** Deadline per request in ms (0: none) before 503 TIMEOUT. @defaultValue 30000 */
  CLIP_EDGE_REQUEST_TIMEOUT_MS?: string;
}
