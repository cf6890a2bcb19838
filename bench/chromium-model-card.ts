// npm run bench:chromium-model-card -- --model models/rn50-random [--variants int8,fp32] [--runs 3]
// A model of the card in headless Chromium (Debian's) through the browser runtime
// (createBrowserClipEdge: fetch, ORT-web WASM on 1 thread, the same core): loads the vision tower,
// embeds a 420 px JPEG `--runs` times after a warm-up (median inference ms per image), classifies it
// with 3 prompts when the model has a text tower. Rows merge into bench/results/chromium-model-card.{json,md}.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { buildWeb } from '../src/page-server/build.ts';
import { serveNode } from '../src/runtime/node/serve.ts';
import { chromiumAvailable, launchChromium } from '../test/helpers/chromium.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = path.join(ROOT, 'bench/results/chromium-model-card');
const PHOTO = 'test/fixtures/pil/inputs/baseline-420.jpg';
const { values: args } = parseArgs({ options: { model: { type: 'string' }, variants: { type: 'string' }, runs: { type: 'string' } } });
if (!args.model) throw new Error('--model models/<name> is required');
const chromium = chromiumAvailable();
if (!chromium.ok) throw new Error(`Chromium is not available: ${chromium.reason}`);
const variants = (args.variants ?? 'int8').split(',');
const runs = Number(args.runs ?? 3);
const dir = path.resolve(args.model);
const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { id: string };

const host = await serveNode({ port: 0, host: '127.0.0.1', backend: 'wasm', model: dir, text: false }, { pageBuild: await buildWeb() });
const browser = await launchChromium();
const esbuild = await import('esbuild');
const bundle = await esbuild.build({
  stdin: { contents: `import { createBrowserClipEdge } from './src/runtime/browser/create.ts'; globalThis.__createClip = createBrowserClipEdge;`, resolveDir: ROOT, sourcefile: 'entry.ts', loader: 'ts' },
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'browser',
});
const rows: Record<string, unknown>[] = [];
try {
  for (const variant of variants) {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error('[page error]', e.message));
    await page.goto(`${host.url}/`);
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text, type: 'module' });
    await page.waitForFunction(() => '__createClip' in globalThis);
    console.error(`${manifest.id} ${variant}: loading and ${runs} runs in Chromium…`);
    const r = await page.evaluate(
      async ({ id, variant, runs, image }) => {
        type Kit = { embedImage(b: Uint8Array): Promise<{ embedding: Float32Array; variant: string; timings: { inferenceMs: number } }>; close(): Promise<void> };
        const create = (globalThis as unknown as { __createClip: (o: unknown) => Promise<Kit> }).__createClip;
        const t0 = performance.now();
        const kit = await create({
          modelUrl: new URL(`models/${id}/`, location.href).href,
          ortBaseUrl: new URL('ort/', location.href).href,
          codecBaseUrl: new URL('codecs/', location.href).href,
          backend: 'wasm',
          visionVariant: variant,
          text: false,
          threads: 1,
        });
        const bytes = Uint8Array.from(atob(image), (ch) => ch.charCodeAt(0));
        const first = await kit.embedImage(bytes);
        const firstMs = performance.now() - t0;
        const ms: number[] = [];
        for (let i = 0; i < runs; i++) ms.push((await kit.embedImage(bytes)).timings.inferenceMs);
        await kit.close();
        ms.sort((a, b) => a - b);
        const heap = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize;
        return { variant: first.variant, dim: first.embedding.length, firstResultMs: Math.round(firstMs), inferenceMsMedian: Math.round(ms[ms.length >> 1]! * 10) / 10, heap };
      },
      { id: manifest.id, variant, runs, image: readFileSync(path.join(ROOT, PHOTO)).toString('base64') },
    );
    rows.push({ model: manifest.id, ...r, runs, measuredAt: new Date().toISOString(), cpu: `${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}`, loadAverage: Math.round(os.loadavg()[0]! * 10) / 10 });
    await page.close();
  }
} finally {
  await browser.close();
  await host.close();
}
const prior = existsSync(`${OUT}.json`) ? (JSON.parse(readFileSync(`${OUT}.json`, 'utf8')) as { rows: Record<string, unknown>[] }).rows : [];
const merged = [...prior.filter((p) => !rows.some((r) => r.model === p.model && r.variant === p.variant)), ...rows];
writeFileSync(`${OUT}.json`, `${JSON.stringify({ rows: merged }, null, 1)}\n`);
const md = [
  '# The model card in Chromium',
  '',
  'Headless Chromium (Debian\'s), the browser runtime on ORT-web WASM, 1 thread, vision tower only, a 420 px JPEG;',
  'median inference ms per image after a warm-up; first result = from creating the kit (fetch + session) to the first embedding.',
  'On a shared 2-core machine: the load average is given, figures are comparable only at similar loads.',
  '`npm run bench:chromium-model-card -- --model models/<name> --variants int8,fp32 --runs 3`',
  '',
  '| model | variant | inference ms / image (median) | first result ms | load |',
  '| --- | --- | ---: | ---: | ---: |',
  ...merged.map((r) => `| ${String(r.model)} | ${String(r.variant)} | ${String(r.inferenceMsMedian)} | ${String(r.firstResultMs)} | ${String(r.loadAverage)} |`),
  '',
];
writeFileSync(`${OUT}.md`, md.join('\n'));
console.log(md.join('\n'));
