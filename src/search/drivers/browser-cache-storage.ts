// The browser's index: the flat memory index (exact; fine for the thousands of photos a page holds),
// kept across visits as one snapshot in Cache Storage (written by persist()).
import { createMemoryIndex, type FlatIndex, type MemoryIndexOptions, type SnapshotStore } from './memory.ts';

export interface CacheStorageIndexOptions extends Omit<MemoryIndexOptions, 'store' | 'driver'> {
  /** Cache Storage cache name. @defaultValue 'clip-edge-search' */
  cacheName?: string;
  /** Which index in that cache (several can live side by side). @defaultValue 'default' */
  name?: string;
}

export function cacheStorageSnapshotStore(cacheName: string, name: string): SnapshotStore {
  // Cache Storage keys are URLs: a fixed, never-fetched one per index.
  const url = `https://clip-edge.invalid/search/${encodeURIComponent(name)}.bin`;
  return {
    async read() {
      const hit = await (await caches.open(cacheName)).match(url);
      return hit ? new Uint8Array(await hit.arrayBuffer()) : undefined;
    },
    async write(bytes) {
      await (await caches.open(cacheName)).put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream' } }));
    },
  };
}

export function createCacheStorageIndex(options: CacheStorageIndexOptions): Promise<FlatIndex> {
  const { cacheName = 'clip-edge-search', name = 'default', ...rest } = options;
  return createMemoryIndex({ ...rest, store: cacheStorageSnapshotStore(cacheName, name), driver: 'browser-cache-storage' });
}
