// Browsers: the model folder over fetch, cached in Cache Storage (see ../adapter.ts for the contract).
import type { RuntimeAdapter } from '../adapter.ts';
import { tieredPromptCacheStore } from '../../core/prompt-cache/store.ts';
import { browserImageCodecs } from './codecs.ts';
import { sourceLabelSets } from './label-sets.ts';
import type { fetchModelSource } from './model-source.ts';
import { type BrowserBackendOptions, defaultBrowserBackends } from './ort.ts';
import { cacheStoragePromptCacheStore, sourcePromptCacheStore } from './prompt-cache.ts';

/** Where things are in a browser: the model folder's source (it lists its own files) and the wasm folders. */
export interface BrowserPlace {
  source: ReturnType<typeof fetchModelSource>;
  /** onnxruntime-web's build: where its files are, and how it is loaded. */
  ort: BrowserBackendOptions;
  /** Folder URL of the JPEG/WebP decoders' wasm (CODEC_WASM_FILES). */
  codecBaseUrl: string | URL;
}

export const browserAdapter: RuntimeAdapter<BrowserPlace> = {
  name: 'browser',
  modelSource: (place) => place.source,
  backends: (place) => defaultBrowserBackends(place.ort),
  imageCodecs: (place) => browserImageCodecs(place.codecBaseUrl),
  // Inline labels' class embeddings go to Cache Storage, in front of the folder's shipped prompts/.
  promptCache: async (place) => tieredPromptCacheStore(cacheStoragePromptCacheStore({ prefix: (await place.source.index()).id }), sourcePromptCacheStore(place.source)),
  labelSets: (place) => sourceLabelSets(place.source, async () => (await place.source.index()).labelSets),
};
