// The index contract for the browser driver (memory + Cache Storage snapshot) inside real Chromium:
// the contract and the driver are bundled into one script that runs every case in the page.
import { describe, expect, it } from 'vitest';
import { openBundlePage } from '../helpers/bundle-page.ts';
import { chromiumAvailable } from '../helpers/chromium.ts';
import { indexContract } from '../contract/search-index.ts';

const chromium = chromiumAvailable();

describe.skipIf(!chromium.ok)('index contract: browser-cache-storage driver (Chromium)', () => {
  it('passes every case in the page, and a snapshot survives a reload', async () => {
    const { page, reload, close } = await openBundlePage(`
      import { createCacheStorageIndex } from './src/search/drivers/browser-cache-storage.ts';
      import { indexContract } from './test/contract/search-index.ts';
      globalThis.__runContract = async () => {
        const passed = [], failed = [];
        for (const c of indexContract((o, key) => createCacheStorageIndex({ ...o, name: key }))) {
          try { await c.run(); passed.push(c.name); } catch (e) { failed.push({ name: c.name, error: String(e && e.message || e) }); }
        }
        return { passed, failed };
      };
      globalThis.__open = (name) => createCacheStorageIndex({ model: 'm', dim: 3, name });`);
    try {
      const r = (await page.evaluate(() => (globalThis as unknown as { __runContract: () => Promise<unknown> }).__runContract())) as { passed: string[]; failed: unknown[] };
      expect(r.failed).toEqual([]);
      expect(r.passed).toEqual(indexContract(async () => undefined as never).map((c) => c.name));

      // Persisted in Cache Storage: a new page on the same origin reads it back.
      type Idx = { upsert(r: unknown, o: unknown): Promise<unknown>; persist(): Promise<void>; count(): Promise<number>; query(v: number[], o: unknown): Promise<{ id: string }[]> };
      await page.evaluate(async () => {
        const index = await (globalThis as unknown as { __open: (n: string) => Promise<Idx> }).__open('reload');
        await index.upsert([{ id: 'a', vector: [1, 0, 0] }, { id: 'b', vector: [0, 1, 0] }], { model: 'm' });
        await index.persist();
      });
      await reload();
      const after = await page.evaluate(async () => {
        const index = await (globalThis as unknown as { __open: (n: string) => Promise<Idx> }).__open('reload');
        return { count: await index.count(), best: (await index.query([0.1, 1, 0], { topK: 1 }))[0]!.id };
      });
      expect(after).toEqual({ count: 2, best: 'b' });
    } finally {
      await close();
    }
  }, 120_000);
});
