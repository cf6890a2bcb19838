import { ClipEdgeError } from '../../core/errors.ts';
import { type PromptCacheHeader, packPromptCache, unpackPromptCache } from '../../core/prompt-cache/format.ts';
import { type PromptCacheStore, STORE_KEY } from '../../core/prompt-cache/store.ts';
import type { KVNamespaceLike, R2BucketLike } from './bindings.ts';

const checkKey = (key: string) => {
  if (!STORE_KEY.test(key)) throw new ClipEdgeError('BAD_INPUT', `invalid prompt cache key "${key.slice(0, 40)}"`);
};

const joinPrefix = (prefix: string) => (prefix ? `${prefix.replace(/\/+$/, '')}/` : '');

/** Lists every key under a prefix, following cursors. */
async function listAll<T>(page: (cursor?: string) => Promise<{ items: T[]; cursor?: string; done: boolean }>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (;;) {
    const r = await page(cursor);
    out.push(...r.items);
    if (r.done || !r.cursor) return out;
    cursor = r.cursor;
  }
}

/**
 * Prompt caches in Workers KV, one packed blob per key (`packPromptCache`: header + matrix in
 * one value, so a reader never sees a header without its matrix). Keys: `<prefix>/<label set>`.
 * KV values are limited to 25 MiB: an ImageNet cache of a 512-dim model is 1 MB in float16.
 */
export function kvPromptCacheStore(kv: KVNamespaceLike, prefix = ''): PromptCacheStore {
  const p = joinPrefix(prefix);
  return {
    name: `kv:${prefix}`,
    async get(key) {
      checkKey(key);
      const blob = await kv.get(p + key, 'arrayBuffer');
      return blob === null ? undefined : unpackPromptCache(new Uint8Array(blob));
    },
    async put(key, entry) {
      checkKey(key);
      await kv.put(p + key, packPromptCache(entry));
    },
    async delete(key) {
      checkKey(key);
      await kv.delete(p + key);
    },
    async keys() {
      const names = await listAll(async (cursor) => {
        const r = await kv.list({ prefix: p, ...(cursor ? { cursor } : {}) });
        return { items: r.keys.map((k) => k.name.slice(p.length)), cursor: r.cursor, done: r.list_complete };
      });
      return names.filter((k) => STORE_KEY.test(k)).sort();
    },
  };
}

/**
 * Prompt caches in R2 in the model folder's own layout: `<prefix>/<key>.bin` (matrix) and
 * `<prefix>/<key>.json` (header), as `clip-edge prompts build` writes them, so uploading a model
 * folder uploads its caches. The matrix is written first and the header last.
 */
export function r2PromptCacheStore(bucket: R2BucketLike, prefix = ''): PromptCacheStore {
  const p = joinPrefix(prefix);
  const obj = (key: string, ext: 'json' | 'bin') => `${p}${key}.${ext}`;
  return {
    name: `r2:${prefix}`,
    async get(key) {
      checkKey(key);
      const [json, bin] = await Promise.all([bucket.get(obj(key, 'json')), bucket.get(obj(key, 'bin'))]);
      if (!json || !bin) return undefined;
      let header: PromptCacheHeader;
      try {
        header = JSON.parse(new TextDecoder().decode(await json.arrayBuffer())) as PromptCacheHeader;
      } catch (cause) {
        throw new ClipEdgeError('INTEGRITY_MISMATCH', `stale or corrupt prompt cache: ${key}.json is not JSON`, { cause });
      }
      return { header, data: new Uint8Array(await bin.arrayBuffer()) };
    },
    async put(key, entry) {
      checkKey(key);
      await bucket.put(obj(key, 'bin'), entry.data);
      await bucket.put(obj(key, 'json'), `${JSON.stringify(entry.header, null, 1)}\n`);
    },
    async delete(key) {
      checkKey(key);
      await bucket.delete([obj(key, 'json'), obj(key, 'bin')]);
    },
    async keys() {
      const names = await listAll(async (cursor) => {
        const r = await bucket.list({ prefix: p, ...(cursor ? { cursor } : {}) });
        return { items: r.objects.map((o) => o.key.slice(p.length)), cursor: r.cursor, done: !r.truncated };
      });
      return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).filter((k) => STORE_KEY.test(k)).sort();
    },
  };
}

/**
 * Reads from each store in turn and writes to the first, like the core's tiered store, but an
 * unreadable entry in one store (e.g. a corrupt KV value) falls through to the next instead of
 * hiding a good copy there; when no store has a usable entry, the first error is reported.
 */
export function fallthroughPromptCacheStore(primary: PromptCacheStore, ...fallbacks: PromptCacheStore[]): PromptCacheStore {
  const all = [primary, ...fallbacks];
  return {
    name: all.map((s) => s.name).join(' → '),
    async get(key) {
      let firstError: unknown;
      for (const s of all) {
        try {
          const e = await s.get(key);
          if (e) return e;
        } catch (err) {
          firstError ??= err;
        }
      }
      if (firstError !== undefined) throw firstError;
      return undefined;
    },
    put: (key, entry) => primary.put(key, entry),
    delete: (key) => primary.delete(key),
    async keys() {
      return [...new Set((await Promise.all(all.map((s) => s.keys()))).flat())].sort();
    },
  };
}
