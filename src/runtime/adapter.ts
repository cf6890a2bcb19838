// The runtime-adapter contract: what a runtime hands the Web-standard core. Every adapter folder
// implements it with the same file names, one part per file:
//
//   model-source.ts   where the model folder's bytes come from          → RuntimeAdapter.modelSource
//   ort.ts            how onnxruntime is loaded (backends, priorities)   → RuntimeAdapter.backends
//   codecs.ts         the JPEG/WebP decoders' wasm                       → RuntimeAdapter.imageCodecs
//   prompt-cache.ts   the shared prompt-cache store                      → RuntimeAdapter.promptCache
//   label-sets.ts     where named label sets come from                   → RuntimeAdapter.labelSets
//   search-index.ts   the default search index                           → RuntimeAdapter.index
//   adapter.ts        the RuntimeAdapter object made of the parts above
//   create.ts         the runtime's one factory: create<Runtime>ClipEdge(…): Promise<ClipEdgeKit>
//   index.ts          the package subpath (re-exports only)
//
// fs/ is the adapter of Node, Deno and Bun (files on disk); node/, deno/ and bun/ add only what
// differs: serve.ts (their HTTP server), create.ts (the factory under the runtime's name), index.ts.
import { type ClipEdgeOptions, createClipEdge } from '../core/clip.ts';
import { type ClipEdgeKit, withImageInputs } from '../core/kit.ts';
import type { Backend } from '../core/backend.ts';
import type { ImageCodecWasm } from '../core/image/wasm-codec.ts';
import type { ReadImageOptions } from '../core/image/input.ts';
import { chainLabelSets, type LabelSetProvider } from '../core/label-sets.ts';
import type { ModelSource } from '../core/model/source.ts';
import type { PromptCacheStore } from '../core/prompt-cache/store.ts';
import type { ClipEdge } from '../core/types.ts';
import type { VectorIndex } from '../search/types.ts';

/**
 * One runtime's I/O. `Place` is what the runtime is told about where things are: a folder and
 * thread count on Node, the bindings and vars on Workers, URLs in a browser. Each method is called
 * once per kit; none runs at import time.
 */
export interface RuntimeAdapter<Place> {
  /** `node` (also Deno and Bun), `workers`, `browser`: shown in messages. */
  readonly name: string;
  /**
   * Whether a request waiting for memory shared across requests (the decode budget, the HTTP body
   * pool) learns of its turn on its own timer instead of from the request that gave the memory back:
   * needed where a promise resolved by one request cannot resume another's work (Workers: see
   * ByteBudget). The runtime's kit and HTTP app both take it from here. @defaultValue false
   */
  readonly pollGrants?: boolean;
  /** The model folder. */
  modelSource(place: Place): ModelSource;
  /** The inference backends, resolved by priority (the core tries them in order). */
  backends(place: Place): readonly Backend[];
  /** The image decoders' wasm. */
  imageCodecs(place: Place): ImageCodecWasm;
  /** The shared prompt cache, or undefined: class embeddings are then kept in memory only. */
  promptCache(place: Place, source: ModelSource): PromptCacheStore | undefined | Promise<PromptCacheStore | undefined>;
  /** Named label sets (the model's own, then built-in ones). */
  labelSets(place: Place, source: ModelSource): LabelSetProvider | Promise<LabelSetProvider>;
  /** Core options this runtime sets differently (decode budget, batch size, integrity). @defaultValue none */
  defaults?(place: Place, source: ModelSource): Partial<ClipEdgeOptions>;
  /** How classify/embedImage read inputs other than bytes (file paths on Node, Deno and Bun). @defaultValue bytes, Blob/File, streams */
  imageInputs?(place: Place): ReadImageOptions;
  /** The default search index for a loaded model, when the runtime has one configured: what the runtime's server (fs/service.ts, workers/app.ts) gives the HTTP app. */
  index?(place: Place): ((clip: ClipEdge) => Promise<VectorIndex>) | undefined;
}

/** What a caller may still set on top of an adapter (anything but the parts the adapter supplies, which it may replace). */
export type AdapterOverrides = Partial<ClipEdgeOptions>;

/**
 * The one way a runtime's factory builds its kit: the adapter's parts, its defaults, then what the
 * caller gave. A given `source`, `backends` or `promptCache` replaces the adapter's; given
 * `labelSets` are looked up before the adapter's; given `imageDecode` keys replace the adapter's one by one.
 */
export async function createFromAdapter<Place>(adapter: RuntimeAdapter<Place>, place: Place, overrides: AdapterOverrides = {}): Promise<ClipEdgeKit> {
  const source = overrides.source ?? adapter.modelSource(place);
  const promptCache = overrides.promptCache ?? (await adapter.promptCache(place, source));
  const own = await adapter.labelSets(place, source);
  const labelSets = overrides.labelSets ? chainLabelSets(overrides.labelSets, own) : own;
  const defaults = adapter.defaults?.(place, source) ?? {};
  // imageDecode key by key: a caller's jpegScaling must not drop the adapter's budget or executor.
  const imageDecode = defaults.imageDecode || overrides.imageDecode ? { imageDecode: { ...defaults.imageDecode, ...withoutUndefined(overrides.imageDecode ?? {}) } } : {};
  const clip = await createClipEdge({
    backends: overrides.backends ?? adapter.backends(place),
    imageCodecs: adapter.imageCodecs(place),
    ...(promptCache ? { promptCache } : {}),
    ...defaults,
    ...withoutUndefined(overrides),
    ...imageDecode,
    source,
    labelSets,
  });
  // classify/embedImage also take a Blob/File, a ReadableStream, a Response, or (Node/Deno/Bun) a path.
  return withImageInputs(clip, adapter.imageInputs?.(place));
}

const withoutUndefined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
