import { ClipEdgeError } from '../errors.ts';
import { type PromptCacheHeader, packPromptCache, unpackPromptCache } from './format.ts';
import { type PromptCacheStore, STORE_KEY } from './store.ts';

/**
 * The prompt-cache stores, written once over small per-runtime bytes drivers (the unstorage
 * shape): a runtime supplies get/put/delete/list of bytes by name; the store supplies key checks,
 * the file layout, the write order and the errors. Drivers: runtime/fs/prompt-cache.ts
 * (files), runtime/workers/prompt-cache.ts (KV, R2), runtime/browser/prompt-cache.ts (Cache
 * Storage, the model folder's shipped caches).
 */
export interface BytesDriver {
  /** `undefined` when there is no such item. */
  get(name: string): Promise<Uint8Array | undefined>;
  /** Absent: the store is read-only. */
  put?(name: string, bytes: Uint8Array): Promise<void>;
  delete?(names: string[]): Promise<void>;
  /** Every item name (the store filters them). Absent: the store lists nothing. */
  list?(): Promise<string[]>;
}

/** Refuses a key that is not file- and URL-safe (store keys become file names and URLs). */
export function checkStoreKey(key: string): void {
  if (!STORE_KEY.test(key)) throw new ClipEdgeError('BAD_INPUT', `invalid prompt cache key "${key.slice(0, 40)}"`);
}

const readOnly = (name: string) => async () => {
  throw new ClipEdgeError('INTERNAL', `the prompt caches of ${name} are read-only`);
};

/**
 * `<key>.json` (header) + `<key>.bin` (matrix), the model folder's own layout (`prompts/`), as
 * `clip-edge prompts build` writes it. The matrix is written first and the header last, so a
 * reader that sees a header also sees its matrix.
 */
export function pairPromptCacheStore(name: string, driver: BytesDriver): PromptCacheStore {
  return {
    name,
    async get(key) {
      checkStoreKey(key);
      const [json, data] = await Promise.all([driver.get(`${key}.json`), driver.get(`${key}.bin`)]);
      if (!json || !data) return undefined;
      let header: PromptCacheHeader;
      try {
        header = JSON.parse(new TextDecoder().decode(json)) as PromptCacheHeader;
      } catch (cause) {
        throw new ClipEdgeError('INTEGRITY_MISMATCH', `stale or corrupt prompt cache: ${key}.json is not JSON`, { cause });
      }
      return { header, data };
    },
    put: driver.put
      ? async (key, entry) => {
          checkStoreKey(key);
          await driver.put!(`${key}.bin`, entry.data);
          await driver.put!(`${key}.json`, new TextEncoder().encode(`${JSON.stringify(entry.header, null, 1)}\n`));
        }
      : readOnly(name),
    delete: driver.delete
      ? async (key) => {
          checkStoreKey(key);
          await driver.delete!([`${key}.json`, `${key}.bin`]);
        }
      : readOnly(name),
    async keys() {
      const names = (await driver.list?.()) ?? [];
      return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).filter((k) => STORE_KEY.test(k)).sort();
    },
  };
}

/** One packed blob per key (`packPromptCache`), for stores that keep single values: KV, Cache Storage. */
export function blobPromptCacheStore(name: string, driver: Required<BytesDriver>): PromptCacheStore {
  return {
    name,
    async get(key) {
      checkStoreKey(key);
      const blob = await driver.get(key);
      return blob === undefined ? undefined : unpackPromptCache(blob);
    },
    async put(key, entry) {
      checkStoreKey(key);
      await driver.put(key, packPromptCache(entry));
    },
    async delete(key) {
      checkStoreKey(key);
      await driver.delete([key]);
    },
    async keys() {
      return (await driver.list()).filter((k) => STORE_KEY.test(k)).sort();
    },
  };
}
