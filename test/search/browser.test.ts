// The index contract for the browser driver (memory + Cache Storage snapshot) inside real Chromium:
// the contract and the driver are bundled into one script that runs every case in the page.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../helpers/chromium.ts';
import { REPO_ROOT } from '../helpers/clip.ts';
import { indexContract } from './contract.ts';

const chromium = chromiumAvailable();
let server: Server | undefined;
afterAll(() => server?.close());

describe.skipIf(!chromium.ok)('index contract: browser-cache-storage driver (Chromium)', () => {
  it('passes every case in the page, and a snapshot survives a reload', async () => {
    const esbuild = await import('esbuild');
    const bundle = await esbuild.build({
      stdin: {
        contents: `
          import { createCacheStorageIndex } from './src/search/drivers/browser-cache-storage.ts';
          import { indexContract } from './test/search/contract.ts';
          globalThis.__runContract = async () => {
            const passed = [], failed = [];
            for (const c of indexContract((o, key) => createCacheStorageIndex({ ...o, name: key }))) {
              try { await c.run(); passed.push(c.name); } catch (e) { failed.push({ name: c.name, error: String(e && e.message || e) }); }
            }
            return { passed, failed };
          };
          globalThis.__open = (name) => createCacheStorageIndex({ model: 'm', dim: 3, name });`,
        resolveDir: REPO_ROOT,
        sourcefile: 'entry.ts',
        loader: 'ts',
      },
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'browser',
    });
    server = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>index</title>'));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(url);
      await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
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
      await page.reload();
      await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
      const after = await page.evaluate(async () => {
        const index = await (globalThis as unknown as { __open: (n: string) => Promise<Idx> }).__open('reload');
        return { count: await index.count(), best: (await index.query([0.1, 1, 0], { topK: 1 }))[0]!.id };
      });
      expect(after).toEqual({ count: 2, best: 'b' });
    } finally {
      await browser.close();
    }
  }, 120_000);
});
