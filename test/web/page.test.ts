// The mobile-web classifier in real headless Chromium (Debian's), against the real Node server:
// the page's answers (WASM and WebGPU) equal the server's /v1/classify for the same image.
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Hono } from 'hono';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb, type WebBuild } from '../../src/page-server/build.ts';
import { serveNode, type RunningServer } from '../../src/runtime/node/serve.ts';
import { createServiceApp } from '../../src/runtime/fs/service.ts';
import { writeStaticPage } from '../../scripts/build-web.ts';
import { chromiumAvailable, launchChromium, phoneContext } from '../helpers/chromium.ts';
import { EVAL_DIR, REPO_ROOT } from '../helpers/clip.ts';

const chromium = chromiumAvailable();
if (!chromium.ok) console.warn(`[browser tests skipped] ${chromium.reason}`);

const SHOTS = path.join(REPO_ROOT, 'test-results/browser');
const JPEG = path.join(EVAL_DIR, 'images/red_circle_01.jpg');
// The eval set's first PNG (about 12 % of its images are small PNGs).
const PNG = path.join(EVAL_DIR, (JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as { images: { file: string }[] }).images.find((i) => i.file.endsWith('.png'))!.file);
const CUSTOM = ['red circle', 'blue star', 'green heart', 'yellow triangle'];

interface Row {
  label: string;
  score: number;
}
interface ServerAnswer {
  backend: string;
  variant: { vision: string };
  results: Row[];
}

/** The server's /v1/classify for a file (multipart, as the page's server toggle sends it). */
async function classifyOn(fetcher: (req: Request) => Response | Promise<Response>, file: string, params: Record<string, string | string[]>) {
  const form = new FormData();
  form.set('image', new Blob([readFileSync(file)]), path.basename(file));
  for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) form.append(k, x);
  const res = await fetcher(new Request('http://server/v1/classify', { method: 'POST', body: form }));
  expect(res.status).toBe(200);
  return (await res.json()) as ServerAnswer;
}

const rowsOf = (page: Page): Promise<Row[]> =>
  page.$$eval('#results li', (lis) => lis.map((li) => ({ label: (li as HTMLElement).dataset.label!, score: Number((li as HTMLElement).dataset.score) })));

const idle = (page: Page) => page.waitForFunction(() => (document.body.dataset.busy ?? '0') === '0', null, { timeout: 90_000 });

/** Picks a file and waits for the page's answer to it (results, or an error message). */
async function pick(page: Page, file: string | { name: string; mimeType: string; buffer: Buffer }): Promise<Row[]> {
  await idle(page); // a reclassification started by changing the labels must not be taken for this answer
  await page.evaluate(() => {
    document.getElementById('results')!.replaceChildren();
    document.getElementById('error')!.textContent = '';
  });
  await page.setInputFiles('#file', file);
  await page.waitForFunction(() => document.querySelector('#results li') || document.getElementById('error')!.textContent, null, { timeout: 90_000 });
  await idle(page);
  return rowsOf(page);
}

/** Types labels into the (possibly still hidden) custom-labels box; choosing "Custom labels…" then classifies with them. */
const setLabels = (page: Page, labels: string) => page.$eval('#labels', (t, v) => void ((t as HTMLTextAreaElement).value = v), labels);

const expectSameAnswer = (page: Row[], server: Row[], tolerance: number) => {
  expect(page.map((r) => r.label)).toEqual(server.map((r) => r.label));
  page.forEach((r, i) => expect(Math.abs(r.score - server[i]!.score)).toBeLessThanOrEqual(tolerance));
};

async function openPage(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('[page error]', e.message));
  await page.goto(url);
  await page.waitForSelector('body[data-ready]', { timeout: 90_000 });
  return page;
}

describe.skipIf(!chromium.ok)('mobile-web classifier in Chromium', () => {
  let build: WebBuild;
  let host: RunningServer;
  let fp32: Hono;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    build = await buildWeb();
    // The page's host: WASM backend, so its auto variant (int8) is the page's WASM variant.
    host = await serveNode({ port: 0, host: '127.0.0.1', backend: 'wasm' }, { pageBuild: build });
    // The fp32 vision tower, which the page runs on a WebGPU adapter without shader-f16 (SwiftShader).
    fp32 = await createServiceApp({ backend: 'wasm', visionVariant: 'fp32' });
  });
  afterAll(async () => {
    await host?.close();
  });

  const hostFetch = (req: Request) => fetch(new URL(new URL(req.url).pathname + new URL(req.url).search, host.url), { method: req.method, body: req.body, headers: req.headers, duplex: 'half' } as RequestInit);

  describe('WASM (no WebGPU adapter)', () => {
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    beforeAll(async () => {
      browser = await launchChromium();
      context = await phoneContext(browser);
      page = await openPage(context, `${host.url}/`);
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('serves the page cross-origin isolated, and falls back to WASM (int8, threads)', async () => {
      const res = await fetch(`${host.url}/`);
      expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      expect(await page.getAttribute('body', 'data-ready')).toBe('wasm');
      expect(await page.textContent('#runtime')).toMatch(/tiny-clip · wasm · int8 · \d threads?/);
      const options = await page.$$eval('#labelset option', (os) => os.map((o) => (o as HTMLOptionElement).value));
      expect(options[0]).toBe('tiny-clip-shapes'); // the model's own set first
      expect(options).toEqual(expect.arrayContaining(['cifar10', 'imagenet', '__custom__']));
    });

    it('gives the server\'s top-5 and scores for a JPEG and a PNG (label set from the prompt cache)', async () => {
      for (const file of [JPEG, PNG]) {
        const rows = await pick(page, file);
        const server = await classifyOn(hostFetch, file, { labelSet: 'tiny-clip-shapes', topK: '5' });
        expect(server.backend).toBe('wasm');
        expect(server.variant.vision).toBe('int8');
        expect(rows).toHaveLength(5);
        expectSameAnswer(rows, server.results, 1e-5);
      }
      expect(await page.textContent('#meta')).toMatch(/this device · wasm · int8 · \d+ ms .* 64 classes from (prompt-cache|memory)/);
      await page.screenshot({ path: path.join(SHOTS, 'wasm-390x844.png'), fullPage: true });
    });

    it('custom labels are embedded in the browser with the text encoder, as on the server', async () => {
      await setLabels(page, CUSTOM.join(', '));
      await page.selectOption('#labelset', '__custom__');
      const rows = await pick(page, JPEG);
      const server = await classifyOn(hostFetch, JPEG, { labels: CUSTOM, topK: '5' });
      expect(rows).toHaveLength(4);
      expect(rows[0]!.label).toBe('red circle');
      expectSameAnswer(rows, server.results, 1e-5);
      await page.screenshot({ path: path.join(SHOTS, 'custom-labels-390x844.png'), fullPage: true });
    });

    it('takes a photo with the camera (Chromium\'s fake camera) and classifies it on the device', async () => {
      await page.selectOption('#labelset', 'tiny-clip-shapes');
      await idle(page);
      await page.evaluate(() => document.getElementById('results')!.replaceChildren());
      await page.click('#camera');
      await page.waitForSelector('#capture:not([hidden])');
      expect(await page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).srcObject !== null)).toBe(true);
      await page.click('#capture');
      await page.waitForSelector('#results li', { timeout: 90_000 });
      await idle(page);
      expect(await rowsOf(page)).toHaveLength(5);
      expect(await page.getAttribute('#results', 'data-where')).toBe('this device');
      await page.click('#camera'); // stop it
      expect(await page.isHidden('#video')).toBe(true);
    });

    it('classifies a dropped file like a picked one', async () => {
      await idle(page);
      await page.evaluate(() => document.getElementById('results')!.replaceChildren());
      const dt = await page.evaluateHandle((b64) => {
        const t = new DataTransfer();
        t.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'dropped.png', { type: 'image/png' }));
        return t;
      }, readFileSync(PNG).toString('base64'));
      await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
      await page.waitForSelector('#results li', { timeout: 90_000 });
      await idle(page);
      expectSameAnswer(await rowsOf(page), (await classifyOn(hostFetch, PNG, { labelSet: 'tiny-clip-shapes', topK: '5' })).results, 1e-5);
    });

    it('says clearly when a file is not an image it can read', async () => {
      expect(await pick(page, path.join(REPO_ROOT, 'test/fixtures/pil/bad/still.gif'))).toEqual([]);
      expect(await page.textContent('#error')).toMatch(/not an image the classifier can read — use a JPEG, PNG or WebP photo/);
      expect(await pick(page, { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a picture at all') })).toEqual([]);
      expect(await page.textContent('#error')).toMatch(/JPEG, PNG or WebP/);
      await page.screenshot({ path: path.join(SHOTS, 'bad-file-390x844.png'), fullPage: true });
    });

    it('fits phone widths from 360 to 430 px, and every control has an accessible name', async () => {
      for (const width of [360, 390, 430]) {
        await page.setViewportSize({ width, height: 800 });
        expect(await page.evaluate(() => document.documentElement.scrollWidth), `${width} px`).toBeLessThanOrEqual(width);
      }
      await page.setViewportSize({ width: 390, height: 844 });
      const unnamed = await page.$$eval('button, select, textarea, input', (els) =>
        els
          .filter((el) => !(el.getAttribute('aria-label') || (el as HTMLInputElement).labels?.length || (el.tagName === 'BUTTON' && el.textContent!.trim())))
          .map((el) => el.id),
      );
      expect(unnamed).toEqual([]);
      // Keyboard: the camera and file buttons are reachable with Tab.
      await page.focus('#camera');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('choose');
    });

    it('the server toggle classifies on the server', async () => {
      await page.selectOption('#labelset', 'tiny-clip-shapes');
      await page.check('#server');
      const rows = await pick(page, PNG);
      expect(await page.getAttribute('#results', 'data-where')).toBe('server');
      expectSameAnswer(rows, (await classifyOn(hostFetch, PNG, { labelSet: 'tiny-clip-shapes', topK: '5' })).results, 0);
      await page.uncheck('#server');
    });

    it('works offline after the first visit (service worker + Cache Storage)', async () => {
      await page.evaluate(async () => {
        await navigator.serviceWorker.ready;
      });
      await context.setOffline(true);
      try {
        expect(await fetch(`${host.url}/healthz`).then((r) => r.ok)).toBe(true); // the server is up; only the browser is offline
        await page.reload();
        await page.waitForSelector('body[data-ready]', { timeout: 90_000 });
        expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
        expect(await page.evaluate(() => fetch('/healthz').then(() => 'online', () => 'offline'))).toBe('offline');
        const rows = await pick(page, JPEG);
        expectSameAnswer(rows, (await classifyOn(hostFetch, JPEG, { labelSet: 'tiny-clip-shapes', topK: '5' })).results, 1e-5);
        // Custom labels offline: the text encoder was cached by the earlier test.
        await setLabels(page, 'red circle, blue cross');
        await page.selectOption('#labelset', '__custom__');
        expectSameAnswer(await pick(page, PNG), (await classifyOn(hostFetch, PNG, { labels: ['red circle', 'blue cross'] })).results, 1e-5);
        await page.screenshot({ path: path.join(SHOTS, 'offline-390x844.png'), fullPage: true });
      } finally {
        await context.setOffline(false);
      }
    });
  });

  describe('WebGPU (SwiftShader adapter, no shader-f16)', () => {
    let browser: Browser;
    let page: Page;
    beforeAll(async () => {
      browser = await launchChromium({ webgpu: true });
      page = await openPage(await phoneContext(browser), `${host.url}/`);
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('picks WebGPU with the fp32 variant and gives the server\'s fp32 answer', async () => {
      expect(await page.getAttribute('body', 'data-ready')).toBe('webgpu');
      expect(await page.textContent('#runtime')).toBe('tiny-clip · webgpu · fp32');
      const rows = await pick(page, JPEG);
      const server = await classifyOn((r) => fp32.request(r), JPEG, { labelSet: 'tiny-clip-shapes', topK: '5' });
      expect(server.variant.vision).toBe('fp32');
      expectSameAnswer(rows, server.results, 1e-4);
      expect(await page.textContent('#meta')).toMatch(/this device · webgpu · fp32/);
      await page.screenshot({ path: path.join(SHOTS, 'webgpu-390x844.png'), fullPage: true });
    });
  });

  describe('static build (Workers static assets)', () => {
    it('runs from plain static files; without ORT\'s WebGPU wasm (over the 25 MiB asset limit) it falls back to WASM', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'clip-edge-static-'));
      const { skipped } = await writeStaticPage({ out: dir });
      expect(skipped).toEqual([expect.stringMatching(/^ort\/ort-wasm-simd-threaded\.asyncify\.wasm/)]);
      const headers = Object.fromEntries(
        readFileSync(path.join(dir, '_headers'), 'utf8').split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim().split(': ') as [string, string]),
      );
      // A static file server that applies _headers, as Workers static assets do.
      const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
      const server = createServer(async (req, res) => {
        let rel = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
        if (rel.endsWith('/')) rel += 'index.html';
        const file = path.join(dir, path.normalize(rel));
        if (!file.startsWith(dir)) return void res.writeHead(404).end();
        try {
          const body = await readFile(file);
          res.writeHead(200, { ...headers, 'content-type': types[path.extname(file)] ?? 'application/octet-stream' }).end(body);
        } catch {
          res.writeHead(404).end();
        }
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const browser = await launchChromium({ webgpu: true });
      try {
        const page = await openPage(await phoneContext(browser), `http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
        expect(await page.getAttribute('body', 'data-ready')).toBe('wasm');
        expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
        expectSameAnswer(await pick(page, JPEG), (await classifyOn(hostFetch, JPEG, { labelSet: 'tiny-clip-shapes', topK: '5' })).results, 1e-5);
      } finally {
        await browser.close();
        server.close();
      }
    });
  });
});
