import { ClipEdgeError } from '../../core/errors.ts';
import type { ModelSource } from '../../core/model/source.ts';
import { type PromptCacheHeader, packPromptCache, unpackPromptCache } from '../../core/prompt-cache/format.ts';
import { type PromptCacheStore, STORE_KEY } from '../../core/prompt-cache/store.ts';

const checkKey = (key: string) => {
  if (!STORE_KEY.test(key)) throw new ClipEdgeError('BAD_INPUT', `invalid prompt cache key "${key.slice(0, 40)}"`);
};

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
  return {
    name: `cache-storage:${cacheName}/${options.prefix ?? ''}`,
    async get(key) {
      checkKey(key);
      const res = await (await open()).match(root + key);
      return res ? unpackPromptCache(new Uint8Array(await res.arrayBuffer())) : undefined;
    },
    async put(key, entry) {
      checkKey(key);
      const blob = packPromptCache(entry);
      await (await open()).put(root + key, new Response(blob as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream' } }));
    },
    async delete(key) {
      checkKey(key);
      await (await open()).delete(root + key);
    },
    async keys() {
      const reqs = await (await open()).keys();
      return reqs
        .map((r) => r.url)
        .filter((u) => u.startsWith(root))
        .map((u) => u.slice(root.length))
        .filter((k) => STORE_KEY.test(k))
        .sort();
    },
  };
}

/**
 * The prompt caches shipped in a model folder (`prompts/<key>.json` + `.bin`), read through its
 * ModelSource (which caches them). Read-only: writes go to the store in front of it.
 */
export function sourcePromptCacheStore(source: ModelSource): PromptCacheStore {
  const readOnly = async () => {
    throw new ClipEdgeError('INTERNAL', `the prompt caches of ${source.name} are read-only`);
  };
  return {
    name: `source:${source.name}/prompts`,
    async get(key) {
      checkKey(key);
      const [json, data] = await Promise.all([source.read(`prompts/${key}.json`), source.read(`prompts/${key}.bin`)]);
      if (!json || !data) return undefined;
      let header: PromptCacheHeader;
      try {
        header = JSON.parse(new TextDecoder().decode(json)) as PromptCacheHeader;
      } catch (cause) {
        throw new ClipEdgeError('INTEGRITY_MISMATCH', `stale or corrupt prompt cache: ${key}.json is not JSON`, { cause });
      }
      return { header, data };
    },
    put: readOnly,
    delete: readOnly,
    keys: async () => [],
  };
}
