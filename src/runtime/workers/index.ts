export { createWorkersClipEdge, createWorkersApp, workersConfig, DEFAULT_WORKERS_MODEL, WORKERS_DEFAULT_MAX_PIXELS, type WorkersConfig, type WorkersClipEdgeOptions } from './create.ts';
export { workersWasmBackend, ortWasmMemoryBytes, type WorkersWasmBackendOptions } from './ort.ts';
export { workersImageCodecs } from './codecs.ts';
export { r2ModelSource, assetsModelSource, type CachedSourceOptions } from './model-source.ts';
export { kvPromptCacheStore, r2PromptCacheStore } from './prompt-cache.ts';
export { builtinLabelSets, sourceLabelSets } from './label-sets.ts';
export type { WorkersEnv, R2BucketLike, KVNamespaceLike, FetcherLike } from './bindings.ts';
export * from '../../index.ts';
