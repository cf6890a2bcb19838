// The ResNet family (open_clip's ModifiedResNet + attention pool; small-width fixture
// test/fixtures/openclip/rn) in real Chromium through the browser runtime (fetch, ORT-web WASM,
// the same core): fp32 embeddings equal open_clip's PyTorch forward (cosine ≥ 0.99999), the int8
// variant (ConvInteger + MatMulInteger, activations per image) stays within 0.99 of it, and
// classify ranks the prompts as PyTorch's embeddings do.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quantizeModelFolder } from '../../quantize/folder.ts';
import { parseGates } from '../../quantize/verify/gates.ts';
import { buildWeb } from '../../src/page-server/build.ts';
import { nodeImageCodecs } from '../../src/runtime/fs/codecs.ts';
import { fsModelSource } from '../../src/runtime/fs/model-source.ts';
import { serveNode, type RunningServer } from '../../src/runtime/node/serve.ts';
import { cosine } from '../../src/core/zeroshot.ts';
import { chromiumAvailable, launchChromium } from '../helpers/chromium.ts';
import { REPO_ROOT } from '../helpers/clip.ts';

const chromium = chromiumAvailable();
const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/openclip/rn');
const ref = JSON.parse(readFileSync(path.join(FIXTURE, 'reference.json'), 'utf8')) as {
  images: Record<string, { image_embeds: number[] }>;
  texts: Record<string, { text_embeds: number[] }>;
};

describe.skipIf(!chromium.ok)('open_clip ResNet (small width) in Chromium: loads, embeds and classifies, fp32 and int8', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'clip-edge-rn-web-'));
  const folder = path.join(work, 'rn');
  let host: RunningServer;
  let browser: Browser;
  beforeAll(async () => {
    cpSync(FIXTURE, folder, { recursive: true });
    const q = await quantizeModelFolder(folder, {
      io: { source: fsModelSource(folder), imageCodecs: nodeImageCodecs() },
      variants: ['int8'],
      towers: ['vision'],
      gates: parseGates('int8.top1Agreement=0'), // random weights, near-tied classes (see test/core/openclip-export.test.ts)
      budget: { maxImages: 8, maxTemplates: 1, latencyRuns: 1 },
      sharedDataDir: null,
    });
    expect(q.failures).toEqual([]);
    host = await serveNode({ port: 0, host: '127.0.0.1', backend: 'wasm', model: folder }, { pageBuild: await buildWeb() });
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await host?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('fp32 = open_clip (cosine ≥ 0.99999), int8 within 0.99, classify = PyTorch’s ranking', async () => {
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
      format: 'esm',
      platform: 'browser',
    });
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error('[page error]', e.message));
    await page.goto(`${host.url}/`);
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text, type: 'module' });
    await page.waitForFunction(() => '__createClip' in globalThis);
    const photos = Object.keys(ref.images);
    const texts = Object.keys(ref.texts);
    const images = photos.map((p) => readFileSync(path.join(REPO_ROOT, p)).toString('base64'));
    const answers = await page.evaluate(
      async ({ images, texts }) => {
        type Kit = {
          embedImage(b: Uint8Array): Promise<{ embedding: Float32Array; variant: string; timings: { inferenceMs: number } }>;
          classify(b: Uint8Array, r: unknown): Promise<{ results: { label: string; score: number }[] }>;
          close(): Promise<void>;
        };
        const create = (globalThis as unknown as { __createClip: (o: unknown) => Promise<Kit> }).__createClip;
        const out: Record<string, { embeddings: number[][]; variants: string[]; top: string[]; ms: number[] }> = {};
        for (const visionVariant of ['fp32', 'int8']) {
          const kit = await create({
            modelUrl: new URL('models/openclip-small-rn/', location.href).href,
            ortBaseUrl: new URL('ort/', location.href).href,
            codecBaseUrl: new URL('codecs/', location.href).href,
            backend: 'wasm',
            visionVariant,
            textVariant: 'fp32',
            threads: 1,
          });
          const r = { embeddings: [] as number[][], variants: [] as string[], top: [] as string[], ms: [] as number[] };
          for (const b64 of images) {
            const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
            const e = await kit.embedImage(bytes);
            r.embeddings.push(Array.from(e.embedding));
            r.variants.push(e.variant);
            r.ms.push(e.timings.inferenceMs);
            r.top.push((await kit.classify(bytes, { labels: texts, templates: ['{}'], topK: 1 })).results[0]!.label);
          }
          await kit.close();
          out[visionVariant] = r;
        }
        return out;
      },
      { images, texts },
    );
    photos.forEach((p, i) => {
      const torch = Float32Array.from(ref.images[p]!.image_embeds);
      expect(answers.fp32!.variants[i]).toBe('fp32');
      expect(answers.int8!.variants[i]).toBe('int8');
      const c32 = cosine(Float32Array.from(answers.fp32!.embeddings[i]!), torch);
      const c8 = cosine(Float32Array.from(answers.int8!.embeddings[i]!), torch);
      expect(c32, `${p} fp32 ${c32}`).toBeGreaterThanOrEqual(0.99999);
      expect(c8, `${p} int8 ${c8}`).toBeGreaterThanOrEqual(0.99);
      const expected = texts.reduce((best, t) => (cosine(torch, Float32Array.from(ref.texts[t]!.text_embeds)) > cosine(torch, Float32Array.from(ref.texts[best]!.text_embeds)) ? t : best));
      expect(answers.fp32!.top[i], p).toBe(expected);
    });
  }, 180_000);
});
