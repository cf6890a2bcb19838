// 12 MP phone photos in real Chromium, decoded by the browser runtime's codecs (the files the page
// serves at /codecs/) in a Web Worker: JPEG through libjpeg-turbo row by row, lossy WebP through
// libwebp row by row, PNG through DecompressionStream row by row, each straight into CLIP's crop.
// The crops must equal PIL's byte for byte (test/fixtures/pil/large_photos.py, EXIF-rotated cases
// included), the decoders' wasm memory must stay a few MB (whole-image decoding needs 4 bytes a
// pixel: 48 MB at 12 MP), and the page itself must classify the same photos as Node does. A small
// lossless WebP checks the one format still decoded whole (jsquash's libwebp) against PIL too.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClipEdgeKit } from '../../src/core/kit.ts';
import { buildWeb } from '../../src/page-server/build.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { serveNode, type RunningServer } from '../../src/runtime/node/serve.ts';
import { chromiumAvailable, launchChromium, phoneContext } from '../helpers/chromium.ts';
import { REPO_ROOT } from '../helpers/clip.ts';
import { largePhotos, PYTHON } from '../helpers/large-photos.ts';
import { prerequisite } from '../helpers/prerequisite.ts';

const hasPil = existsSync(PYTHON) && (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import PIL, numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const chromium = chromiumAvailable();

/** large_photos.py's 12 MP cases: baseline JPEG upright and EXIF 6, PNG and lossy WebP EXIF 6. */
const CASES = ['jpeg-12mp', 'jpeg-12mp-exif6', 'png-12mp-exif6', 'webp-12mp-exif6'];
/** Wasm memory the decoders may hold for a 12 MP photo: a few rows and the file (WebP), not the pixels (48 MB whole). */
const MAX_DECODER_BYTES = 8 * 1024 * 1024;

interface Case {
  name: string;
  file: string;
  upright: [number, number];
  crop: string;
}

interface Decoded {
  width: number;
  height: number;
  decode: string;
  crop: number[];
  decoderBytes: number;
  fetched: string[];
}

/** A module Web Worker decoding what it is sent with the browser runtime's codecs, as the page's worker does. */
async function decodeWorkerSource(): Promise<string> {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    stdin: {
      contents: `
        import { createImageDecoder } from './src/core/image/decoder.ts';
        import { CLIP_PREPROCESS } from './src/core/image/preprocess.ts';
        import { browserImageCodecs } from './src/runtime/browser/codecs.ts';
        let decoder;
        self.onmessage = async ({ data }) => {
          try {
            decoder ??= createImageDecoder({ wasm: browserImageCodecs(data.codecBaseUrl) });
            decoder.codecMemoryPeakBytes();
            const r = await decoder.decodeForClip(new Uint8Array(data.bytes), CLIP_PREPROCESS);
            const fetched = performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname);
            self.postMessage({ width: r.width, height: r.height, decode: r.decode, crop: Array.from(r.crop.data), decoderBytes: decoder.codecMemoryPeakBytes(), fetched });
          } catch (e) {
            self.postMessage({ error: String(e) });
          }
        };`,
      resolveDir: REPO_ROOT,
      sourcefile: 'decode-worker.ts',
      loader: 'ts',
    },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
  });
  return out.outputFiles[0]!.text;
}

describe.skipIf(!chromium.ok || !prerequisite(hasPil, 'Debian python3-pil and python3-numpy'))('12 MP photos decoded row by row in Chromium (the page\'s codecs)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clip-edge-web-photos-'));
  let cases: Case[];
  let lossless: Case;
  let host: RunningServer;
  let browser: Browser;
  let node: ClipEdgeKit;

  beforeAll(async () => {
    // Drawn once per checkout and shared with parity-large.test.ts; served from this test's folder by name.
    cases = largePhotos(CASES).map((c) => {
      for (const f of [c.file, c.crop]) copyFileSync(f, path.join(dir, path.basename(f)));
      return { ...c, file: path.basename(c.file), crop: path.basename(c.crop) };
    });
    // A lossless WebP (libwebp cannot stream it): still decoded, whole, by jsquash's build; PIL's crop made here.
    copyFileSync(path.join(REPO_ROOT, 'test/fixtures/pil/inputs/lossless.webp'), path.join(dir, 'lossless.webp'));
    const pil = `import sys; sys.path.insert(0, sys.argv[1]); from make_refs import pil_rgb, pipeline; rgb = pil_rgb(sys.argv[2]); open(sys.argv[3], "wb").write(pipeline(rgb, "clip224")[1].tobytes()); print(rgb.width, rgb.height)`;
    const upright = execFileSync(PYTHON, ['-c', pil, path.join(REPO_ROOT, 'test/fixtures/pil'), path.join(dir, 'lossless.webp'), path.join(dir, 'lossless.clip224.rgb')], { encoding: 'utf8' }).trim().split(' ').map(Number);
    lossless = { name: 'webp-lossless', file: 'lossless.webp', upright: upright as [number, number], crop: 'lossless.clip224.rgb' };
    host = await serveNode({ port: 0, host: '127.0.0.1', backend: 'wasm' }, { pageBuild: await buildWeb() });
    browser = await launchChromium();
    // The Node path (tested equal to PIL in test/core/image/parity-large.test.ts), in process: the
    // 25 MB PNG is over the server's default 10 MiB body limit.
    node = await createNodeClipEdge({ backend: 'wasm', text: false });
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await host?.close();
    await node?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Serves the fixtures and the worker at /__photos/ on the page's origin (same-origin, so the page's
   * COEP lets them in). The worker has a real URL, as the page's has: jsquash's Emscripten glue
   * resolves a URL against import.meta.url, which a blob: URL cannot be a base for.
   */
  const routePhotos = (page: Page, worker: string) =>
    page.route('**/__photos/*', (route) => {
      const name = path.basename(new URL(route.request().url()).pathname);
      if (name === 'decode-worker.js') return route.fulfill({ body: worker, headers: { 'content-type': 'text/javascript' } });
      return route.fulfill({ path: path.join(dir, name), headers: { 'content-type': 'application/octet-stream' } });
    });

  it('the browser runtime\'s codecs in a Web Worker give PIL\'s crop byte for byte, in a few MB of wasm memory, fetching only the streamed decoders (jsquash\'s WebP for lossless only)', async () => {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error('[page error]', e.message));
    await routePhotos(page, await decodeWorkerSource());
    await page.goto(`${host.url}/healthz`);
    for (const c of [...cases, lossless]) {
      const got = await page.evaluate(
        async (file) => {
          const bytes = await (await fetch(`/__photos/${file}`)).arrayBuffer();
          const worker = new Worker('/__photos/decode-worker.js', { type: 'module' });
          try {
            return await new Promise<Decoded | { error: string }>((resolve) => {
              worker.onmessage = (ev) => resolve(ev.data as Decoded);
              worker.onerror = (ev) => resolve({ error: ev.message });
              worker.postMessage({ bytes, codecBaseUrl: new URL('/codecs/', location.href).href }, [bytes]);
            });
          } finally {
            worker.terminate();
          }
        },
        c.file,
      );
      if ('error' in got) throw new Error(`${c.name}: ${got.error}`);
      expect([got.width, got.height], c.name).toEqual(c.upright);
      expect(got.decode, c.name).toBe('exact');
      const want = readFileSync(path.join(dir, c.crop));
      let differing = 0;
      for (let i = 0; i < want.length; i++) if (got.crop[i] !== want[i]) differing++;
      expect(got.crop.length, c.name).toBe(want.length);
      expect(differing, `${c.name}: ${differing} of ${want.length} values differ from PIL`).toBe(0);
      expect(got.decoderBytes, `${c.name}: decoders' wasm memory`).toBeLessThanOrEqual(MAX_DECODER_BYTES);
      const codecs = got.fetched.filter((p) => p.startsWith('/codecs/'));
      const want1 = c === lossless ? ['/codecs/webp_dec.wasm'] : c.name.startsWith('jpeg') ? ['/codecs/libjpeg-turbo.wasm'] : c.name.startsWith('webp') ? ['/codecs/libwebp.wasm'] : [];
      expect(codecs, `${c.name}: decoder wasm fetched`).toEqual(want1);
      // PNG needs no wasm; jsquash's whole-image WebP does not expose its memory (counted as 0).
      if (c.name.startsWith('png')) expect(got.decoderBytes, 'PNG needs no wasm').toBe(0);
      else if (c !== lossless) expect(got.decoderBytes, c.name).toBeGreaterThan(0);
    }
    await page.close();
  }, 600_000);

  it('the page classifies each photo in its worker as Node does, and reports a few MB of decoder memory', async () => {
    const context = await phoneContext(browser);
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error('[page error]', e.message));
    await page.goto(`${host.url}/`);
    await page.waitForSelector('body[data-ready]', { timeout: 120_000 });
    expect(await page.getAttribute('body', 'data-ready')).toBe('wasm');
    for (const c of cases) {
      await page.evaluate(() => document.getElementById('results')!.replaceChildren());
      await page.setInputFiles('#file', path.join(dir, c.file));
      await page.waitForFunction(() => document.querySelector('#results li') || document.getElementById('error')!.textContent, null, { timeout: 300_000 });
      await page.waitForFunction(() => (document.body.dataset.busy ?? '0') === '0', null, { timeout: 300_000 });
      expect(await page.textContent('#error'), c.name).toBe('');
      const rows = await page.$$eval('#results li', (lis) => lis.map((li) => ({ label: (li as HTMLElement).dataset.label!, score: Number((li as HTMLElement).dataset.score) })));
      const decoderBytes = Number(await page.getAttribute('#results', 'data-decoder-bytes'));
      const want = await node.classify(new Uint8Array(readFileSync(path.join(dir, c.file))), { labelSet: 'tiny-clip-shapes', topK: 5 });
      expect([want.backend, want.variant.vision]).toEqual(['wasm', 'int8']);
      expect(want.image.decode).toBe('exact');
      expect(rows.map((r) => r.label), c.name).toEqual(want.results.map((r) => r.label));
      rows.forEach((r, i) => expect(Math.abs(r.score - want.results[i]!.score), `${c.name} ${r.label}`).toBeLessThanOrEqual(1e-5));
      expect(decoderBytes, `${c.name}: the page's decoder memory`).toBeLessThanOrEqual(MAX_DECODER_BYTES);
    }
    await context.close();
  }, 600_000);
});
