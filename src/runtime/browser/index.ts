export { createBrowserClipEdge, type BrowserClipEdgeOptions } from './create.ts';
export {
  browserWasmBackend,
  browserWebGpuBackend,
  defaultBrowserBackends,
  defaultThreads,
  ORT_BUILDS,
  type BrowserBackendOptions,
  type OrtBuild,
} from './ort.ts';
export { fetchModelSource, readWithProgress, type DownloadProgress, type FetchModelSourceOptions } from './model-source.ts';
export { cacheStoragePromptCacheStore, sourcePromptCacheStore, type CacheStoragePromptCacheOptions } from './prompt-cache.ts';
export { browserImageCodecs, CODEC_WASM_FILES } from './codecs.ts';
export { sourceLabelSets } from './label-sets.ts';
export type { ModelWebIndex } from '../../core/model/web-index.ts';
export * from '../../index.ts';
export { createCacheStorageIndex, cacheStorageSnapshotStore, type CacheStorageIndexOptions } from '../../search/drivers/browser-cache-storage.ts';
export type { FlatIndex } from '../../search/drivers/memory.ts';
export { browserAdapter, type BrowserPlace } from './adapter.ts';
export { createFromAdapter, type RuntimeAdapter, type AdapterOverrides } from '../adapter.ts';
