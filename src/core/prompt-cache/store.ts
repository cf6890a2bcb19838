import type { PromptCacheEntry } from './format.ts';

/**
 * Where prompt caches are shared: memory per isolate, files (Node/Deno/Bun), Workers KV or R2,
 * browser Cache Storage. Keys are label set names (`cifar10`) or `inline-<content key>`.
 * Every implementation passes test/contract/prompt-cache.ts.
 */
export interface PromptCacheStore {
  readonly name: string;
  get(key: string): Promise<PromptCacheEntry | undefined>;
  put(key: string, entry: PromptCacheEntry): Promise<void>;
  delete(key: string): Promise<void>;
  keys(): Promise<string[]>;
  /** Every tier's entry for a key (tiered stores); the caller uses the first that validates. */
  getAll?(key: string): Promise<PromptCacheEntry[]>;
}

/** Store keys are file- and URL-safe. */
export const STORE_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface MemoryStoreOptions {
  /** Total bytes of matrices kept; least recently used entries go first. @defaultValue 64 MiB */
  maxBytes?: number;
}

/** A byte-bounded LRU in memory (one per isolate or process). */
export function memoryPromptCacheStore(options: MemoryStoreOptions = {}): PromptCacheStore {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const map = new Map<string, PromptCacheEntry>();
  let bytes = 0;
  const sizeOf = (e: PromptCacheEntry) => e.data.byteLength + 64 * e.header.count + 1024;
  const remove = (key: string) => {
    const e = map.get(key);
    if (e) {
      bytes -= sizeOf(e);
      map.delete(key);
    }
  };
  return {
    name: 'memory',
    async get(key) {
      const e = map.get(key);
      if (e) {
        map.delete(key);
        map.set(key, e);
      }
      return e;
    },
    async put(key, entry) {
      remove(key);
      if (sizeOf(entry) > maxBytes) return; // larger than the whole budget: not kept
      map.set(key, entry);
      bytes += sizeOf(entry);
      while (bytes > maxBytes) remove(map.keys().next().value!);
    },
    async delete(key) {
      remove(key);
    },
    async keys() {
      return [...map.keys()];
    },
  };
}

/**
 * Reads from each store in turn and writes to the first: e.g. a writable per-user cache (or KV) in
 * front of the read-only caches shipped in a model folder (or R2). An unreadable entry in one tier
 * (a corrupt value, a store that is down) falls through to the next instead of hiding a good copy
 * there; when no tier has an entry, the first error is reported.
 */
export function tieredPromptCacheStore(primary: PromptCacheStore, ...fallbacks: PromptCacheStore[]): PromptCacheStore {
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
    async getAll(key) {
      const found = await Promise.all(all.map((s) => s.get(key).catch(() => undefined)));
      return found.filter((e): e is PromptCacheEntry => e !== undefined);
    },
    put: (key, entry) => primary.put(key, entry),
    delete: (key) => primary.delete(key),
    async keys() {
      return [...new Set((await Promise.all(all.map((s) => s.keys()))).flat())].sort();
    },
  };
}
