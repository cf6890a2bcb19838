// classify() of the browser runtime (createBrowserClipEdge: fetch, Cache Storage, ORT-web WASM,
// the same core) inside real Chromium equals PyTorch's softmax probabilities within 1e-3.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb } from '../../src/page-server/build.ts';
import { serveNode, type RunningServer } from '../../src/runtime/node/serve.ts';
import { chromiumAvailable, launchChromium } from '../helpers/chromium.ts';
import { EVAL_DIR, REPO_ROOT } from '../helpers/clip.ts';
import { PROB_TOLERANCE, caseRequest, probGap, type TorchProbs } from '../helpers/torch-probs.ts';

const chromium = chromiumAvailable();
const reference = JSON.parse(readFileSync(path.join(EVAL_DIR, 'torch-probs.json'), 'utf8')) as TorchProbs;

describe.skipIf(!chromium.ok)('browser runtime in Chromium: PyTorch\'s probabilities (fp32, within 1e-3)', () => {
  let host: RunningServer;
  let browser: Browser;
  beforeAll(async () => {
    // The Node host serves the model folder (/models/tiny-clip/), ORT's files (/ort/) and the codecs (/codecs/).
    host = await serveNode({ port: 0, host: '127.0.0.1', backend: 'wasm' }, { pageBuild: await buildWeb() });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await host?.close();
  });

  it('every reference case, classified in the page', async () => {
    const esbuild = await import('esbuild');
    const bundle = await esbuild.build({
      stdin: {
        contents: `import { createBrowserClipEdge } from './src/runtime/browser/create.ts'; globalThis.__createClip = createBrowserClipEdge;`,
        resolveDir: REPO_ROOT,
        sourcefile: 'entry.ts',
        loader: 'ts',
      },
      bundle: true,
      write: false,
      format: 'esm', // as the page's own bundle: the codecs' glue reads import.meta.url
      platform: 'browser',
    });
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error('[page error]', e.message));
    await page.goto(`${host.url}/`);
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text, type: 'module' });
    await page.waitForFunction(() => '__createClip' in globalThis);
    const cases = reference.cases.map((c) => ({ request: caseRequest(c), image: readFileSync(path.join(EVAL_DIR, c.image)).toString('base64') }));
    const answers = await page.evaluate(async (list) => {
      type Kit = { classify(b: Uint8Array, r: unknown): Promise<{ results: { label: string; score: number }[]; variant: { vision: string }; backend: string }> };
      const create = (globalThis as unknown as { __createClip: (o: unknown) => Promise<Kit> }).__createClip;
      const kit = await create({
        modelUrl: new URL('models/tiny-clip/', location.href).href,
        ortBaseUrl: new URL('ort/', location.href).href,
        codecBaseUrl: new URL('codecs/', location.href).href,
        backend: 'wasm',
        visionVariant: 'fp32',
        threads: 1,
      });
      const out = [];
      for (const c of list) out.push(await kit.classify(Uint8Array.from(atob(c.image), (ch) => ch.charCodeAt(0)), c.request));
      return out;
    }, cases);
    reference.cases.forEach((c, i) => {
      const a = answers[i]!;
      expect([a.backend, a.variant.vision]).toEqual(['wasm', 'fp32']);
      expect(a.results[0]!.label, `${c.image} × ${c.set}`).toBe(c.top1);
      expect(probGap(c, a.results), `${c.image} × ${c.set}`).toBeLessThanOrEqual(PROB_TOLERANCE);
    });
  }, 180_000);
});
