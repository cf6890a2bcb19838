import { blobPromptCacheStore, pairPromptCacheStore } from '../../core/prompt-cache/drivers.ts';
import { type PromptCacheStore, tieredPromptCacheStore } from '../../core/prompt-cache/store.ts';
import type { KVNamespaceLike, R2BucketLike, WorkersEnv } from './bindings.ts';
import type { WorkersConfig } from './config.ts';

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
  return blobPromptCacheStore(`kv:${prefix}`, {
    get: async (key) => kv.get(p + key, 'arrayBuffer').then((b) => (b === null ? undefined : new Uint8Array(b))),
    put: (key, bytes) => kv.put(p + key, bytes),
    delete: async (keys) => void (await Promise.all(keys.map((k) => kv.delete(p + k)))),
    list: () =>
      listAll(async (cursor) => {
        const r = await kv.list({ prefix: p, ...(cursor ? { cursor } : {}) });
        return { items: r.keys.map((k) => k.name.slice(p.length)), cursor: r.cursor, done: r.list_complete };
      }),
  });
}

/**
 * Prompt caches in R2 in the model folder's own layout: `<prefix>/<key>.bin` (matrix) and
 * `<prefix>/<key>.json` (header), as `clip-edge prompts build` writes them, so uploading a model
 * folder uploads its caches.
 */
export function r2PromptCacheStore(bucket: R2BucketLike, prefix = ''): PromptCacheStore {
  const p = joinPrefix(prefix);
  return pairPromptCacheStore(`r2:${prefix}`, {
    get: async (name) => {
      const obj = await bucket.get(p + name);
      return obj ? new Uint8Array(await obj.arrayBuffer()) : undefined;
    },
    put: async (name, bytes) => void (await bucket.put(p + name, bytes)),
    delete: (names) => bucket.delete(names.map((n) => p + n)),
    list: () =>
      listAll(async (cursor) => {
        const r = await bucket.list({ prefix: p, ...(cursor ? { cursor } : {}) });
        return { items: r.objects.map((o) => o.key.slice(p.length)), cursor: r.cursor, done: !r.truncated };
      }),
  });
}

/** The core's tiered store (reads fall through unreadable tiers); the old name, kept for the ./workers API. */
export const fallthroughPromptCacheStore = tieredPromptCacheStore;

/** KV in front (written back to), then the prompt caches uploaded inside the model folder in R2. */
export function promptCacheOf(env: WorkersEnv, cfg: WorkersConfig): PromptCacheStore | undefined {
  const stores: PromptCacheStore[] = [];
  if (env.PROMPTS) stores.push(kvPromptCacheStore(env.PROMPTS, cfg.model));
  if (env.MODELS && cfg.modelSource === 'r2') stores.push(r2PromptCacheStore(env.MODELS, `${cfg.model}/prompts`));
  const [first, ...rest] = stores;
  return first && fallthroughPromptCacheStore(first, ...rest);
}
