export { createWorkersClipEdge, workersConfig, DEFAULT_WORKERS_MODEL, type WorkersConfig, type WorkersClipEdgeOptions } from './create.ts';
export { createWorkersApp } from './app.ts';
export { WORKERS_DEFAULT_MAX_PIXELS } from './limits.ts';
export { WORKERS_VARIANT_ORDER } from './variants.ts';
export { workersWasmBackend, ortWasmMemoryBytes, type WorkersWasmBackendOptions } from './ort.ts';
export { workersImageCodecs } from './codecs.ts';
export { r2ModelSource, assetsModelSource, type CachedSourceOptions } from './model-source.ts';
export { kvPromptCacheStore, r2PromptCacheStore, fallthroughPromptCacheStore } from './prompt-cache.ts';
export { builtinLabelSets, sourceLabelSets } from './label-sets.ts';
export type { WorkersEnv, R2BucketLike, KVNamespaceLike, FetcherLike } from './bindings.ts';
export { createVectorizeIndex, VECTORIZE_LIMITS, type VectorizeBinding, type VectorizeIndexOptions } from '../../search/drivers/cloudflare-vectorize-binding.ts';
export { createIndexConsumer, type IndexConsumerOptions, type DeadLetter } from './index-queue.ts';
export * from '../../index.ts';
// The text Worker (wrangler.text.toml: src/runtime/workers/text-worker.ts exports TextTower): its
// service, and the vision side's remote text encoder over the TEXT binding with its KV row cache.
export { createTextService, type TextServiceInfo } from './text-service.ts';
export { kvRowStore, workersRemoteText } from './remote-text.ts';
export { createRemoteTextEmbedder, type TextService, type TextServiceReply, type TextServiceRequest, type PromptRowStore, type RemoteTextOptions } from '../../core/remote-text.ts';
export { workersAdapter, type WorkersPlace } from './adapter.ts';
export { createFromAdapter, type RuntimeAdapter, type AdapterOverrides } from '../adapter.ts';
