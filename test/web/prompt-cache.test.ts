// The Cache Storage prompt-cache store passes the same contract as every other store, run inside
// real Chromium: each store call is forwarded to the page with page.evaluate.
import { afterAll, describe, expect, it } from 'vitest';
import type { PromptCacheEntry } from '../../src/core/prompt-cache/format.ts';
import type { PromptCacheStore } from '../../src/core/prompt-cache/store.ts';
import { openBundlePage, type BundlePage } from '../helpers/bundle-page.ts';
import { chromiumAvailable } from '../helpers/chromium.ts';
import { sampleEntry, testPromptCacheStore } from '../contract/prompt-cache.ts';

const chromium = chromiumAvailable();

interface Wire {
  header: PromptCacheEntry['header'];
  data: number[];
}

let session: Promise<BundlePage> | undefined;

/** One Chromium page with the store's code loaded. */
const open = () =>
  (session ??= openBundlePage(
    `import { cacheStoragePromptCacheStore } from './src/runtime/browser/prompt-cache.ts'; globalThis.__store = (prefix) => cacheStoragePromptCacheStore({ prefix });`,
  ));

let n = 0;
/** A store in the page, under a fresh prefix so that tests do not see each other's keys. */
async function pageStore(): Promise<PromptCacheStore> {
  const { page } = await open();
  const prefix = `t${++n}`;
  type S = { get(k: string): Promise<{ header: Wire['header']; data: Uint8Array } | undefined>; put(k: string, e: unknown): Promise<void>; delete(k: string): Promise<void>; keys(): Promise<string[]> };
  const call = <T>(fn: (s: S, arg: unknown) => Promise<T>, arg?: unknown): Promise<T> =>
    page.evaluate(
      async ([src, p, a]) => {
        const store = (globalThis as unknown as { __store: (p: string) => S }).__store(p as string);
        return (new Function(`return (${src as string})`)() as (s: S, a: unknown) => Promise<T>)(store, a);
      },
      [fn.toString(), prefix, arg] as const,
    ) as Promise<T>;
  return {
    name: 'cache-storage (Chromium)',
    async get(key) {
      const w = await call<Wire | null>(async (s, k) => {
        const e = await s.get(k as string);
        return e ? { header: e.header, data: Array.from(e.data) } : null;
      }, key);
      return w ? { header: w.header, data: Uint8Array.from(w.data) } : undefined;
    },
    put: (key, entry) =>
      call((s, a) => {
        const [k, w] = a as [string, Wire];
        return s.put(k, { header: w.header, data: Uint8Array.from(w.data) });
      }, [key, { header: entry.header, data: Array.from(entry.data) }]),
    delete: (key) => call((s, k) => s.delete(k as string), key),
    keys: () => call((s) => s.keys()),
  };
}

describe.skipIf(!chromium.ok)('browser prompt cache', () => {
  afterAll(async () => {
    await (await session)?.close();
  });

  testPromptCacheStore('Cache Storage in Chromium', pageStore);

  it('keeps entries across page reloads (Cache Storage persists)', async () => {
    const store = await pageStore();
    await store.put('cifar10', await sampleEntry());
    const { page } = await open();
    await page.reload();
    const keys = await page.evaluate(async () => (await (await caches.open('clip-edge-prompts')).keys()).map((r) => new URL(r.url).pathname));
    expect(keys).toContain(`/__clip-edge/prompt-cache/t${n}/cifar10`);
  });
});
