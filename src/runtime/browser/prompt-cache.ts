import type { ModelSource } from '../../core/model/source.ts';
import { blobPromptCacheStore, pairPromptCacheStore } from '../../core/prompt-cache/drivers.ts';
import type { PromptCacheStore } from '../../core/prompt-cache/store.ts';

export interface CacheStoragePromptCacheOptions {
  /** @defaultValue 'clip-edge-prompts' */
  cacheName?: string;
  /** Keeps models apart in one cache, e.g. the model id. @defaultValue '' */
  prefix?: string;
  /** Origin the (synthetic) request URLs live under. @defaultValue `self.location.origin` */
  origin?: string;
}

/**
 * Prompt caches in the browser's Cache Storage: one packed blob (header + matrix,
 * `packPromptCache`) per key, under a synthetic same-origin URL. Survives reloads and works
 * offline; shared by every tab and worker of the origin.
 */
export function cacheStoragePromptCacheStore(options: CacheStoragePromptCacheOptions = {}): PromptCacheStore {
  const cacheName = options.cacheName ?? 'clip-edge-prompts';
  const origin = options.origin ?? globalThis.location.origin;
  const root = `${origin}/__clip-edge/prompt-cache/${options.prefix ? `${encodeURIComponent(options.prefix)}/` : ''}`;
  const open = () => caches.open(cacheName);
  return blobPromptCacheStore(`cache-storage:${cacheName}/${options.prefix ?? ''}`, {
    get: async (key) => {
      const res = await (await open()).match(root + key);
      return res ? new Uint8Array(await res.arrayBuffer()) : undefined;
    },
    put: async (key, blob) => {
      await (await open()).put(root + key, new Response(blob as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream' } }));
    },
    delete: async (keys) => void (await Promise.all(keys.map(async (k) => (await open()).delete(root + k)))),
    list: async () => (await (await open()).keys()).map((r) => r.url).filter((u) => u.startsWith(root)).map((u) => u.slice(root.length)),
  });
}

/**
 * The prompt caches shipped in a model folder (`prompts/<key>.json` + `.bin`), read through its
 * ModelSource (which caches them). Read-only: writes go to the store in front of it.
 */
export function sourcePromptCacheStore(source: ModelSource): PromptCacheStore {
  return pairPromptCacheStore(`source:${source.name}/prompts`, { get: (name) => source.read(`prompts/${name}`) });
}
