// Time to first result of the mobile-web classifier in headless Chromium (Debian's), cold (empty
// caches) and cached (second visit: service worker + Cache Storage), on WASM and on WebGPU.
//   npm run bench:browser [-- --runs 3] [-- --backends wasm,webgpu]
// Writes bench/results/<date>-<host>-browser.{json,md}. WebGPU here is Chromium's SwiftShader (a
// CPU implementation of WebGPU, no GPU on this machine): its figures are not a GPU's speed.
// The server is on 127.0.0.1, so downloads are not network-bound: cold runs measure what the
// browser does with 20–30 MB of ORT wasm and model, not a phone's network.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BrowserContext } from 'playwright-core';
import { buildWeb } from '../src/page-server/build.ts';
import { serveNode } from '../src/runtime/node/serve.ts';
import { chromiumAvailable, launchChromium } from '../test/helpers/chromium.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const IMAGE = path.join(ROOT, 'test/fixtures/tiny-clip-eval/images/red_circle_01.jpg');

export interface VisitTiming {
  /** From navigation start to the worker's "ready" (ORT started, vision session created). */
  readyMs: number;
  /** From navigation start to the first result on screen (the photo is picked as soon as the page has loaded). */
  firstResultMs: number;
  backend: string;
  variant: string;
}

export interface BrowserBenchResult {
  backend: 'wasm' | 'webgpu';
  cold: VisitTiming[];
  cached: VisitTiming[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function visit(context: BrowserContext, url: string): Promise<VisitTiming> {
  const page = await context.newPage();
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  await page.setInputFiles('#file', IMAGE);
  await page.waitForSelector('#results li', { timeout: 300_000 });
  const t = await page.evaluate(() => ({
    readyMs: Number(document.body.dataset.readyMs),
    firstResultMs: Number(document.getElementById('results')!.dataset.atMs),
    backend: document.body.dataset.ready ?? '',
    variant: document.querySelector('#meta')!.textContent!.split(' · ')[2] ?? '',
  }));
  await page.evaluate(async () => void (await navigator.serviceWorker.ready));
  await page.close();
  return t;
}

/** Cold and cached visits per backend; each cold visit is a fresh browser context (empty caches). */
export async function benchBrowser(options: { runs?: number; backends?: ('wasm' | 'webgpu')[] } = {}): Promise<{ results: BrowserBenchResult[]; url: string }> {
  const runs = options.runs ?? 3;
  const server = await serveNode({ port: 0, host: '127.0.0.1', backend: 'wasm', text: false }, { pageBuild: await buildWeb() });
  const results: BrowserBenchResult[] = [];
  try {
    for (const backend of options.backends ?? ['wasm', 'webgpu']) {
      const browser = await launchChromium({ webgpu: backend === 'webgpu' });
      const r: BrowserBenchResult = { backend, cold: [], cached: [] };
      try {
        for (let i = 0; i < runs; i++) {
          const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
          r.cold.push(await visit(context, `${server.url}/?backend=${backend}`));
          r.cached.push(await visit(context, `${server.url}/?backend=${backend}`));
          await context.close();
          console.error(`${backend} run ${i + 1}: cold ${r.cold.at(-1)!.firstResultMs} ms, cached ${r.cached.at(-1)!.firstResultMs} ms`);
        }
      } finally {
        await browser.close();
      }
      results.push(r);
    }
  } finally {
    await server.close();
  }
  return { results, url: server.url };
}

function report(results: BrowserBenchResult[], runs: number, jsBytes: { raw: number; gzip: number }): string {
  const md = [
    '# Mobile-web classifier — time to first result (tiny-clip, headless Chromium)',
    '',
    `${new Date().toISOString()} · ${os.cpus()[0]?.model.split(' ').slice(0, 2).join(' ')} × ${os.cpus().length} (load average ${os.loadavg()[0]!.toFixed(1)} at the end: a shared machine) · Chromium (Debian) headless · \`npm run bench:browser -- --runs ${runs}\``,
    '',
    'From navigation to the first top-5 on screen for one 214×142 JPEG and the 36-class `tiny-clip-shapes` set (prompt cache), median of',
    `${runs} runs. Cold: a fresh browser profile (downloads ORT's wasm and the vision model over 127.0.0.1, no network delay).`,
    'Cached: a second visit in the same profile (service worker + Cache Storage, nothing downloaded).',
    '**WebGPU here is SwiftShader** (`--enable-unsafe-webgpu`, a CPU implementation of WebGPU: no GPU on this machine); its times say',
    'nothing about a phone GPU. Its adapter has no `shader-f16`, so the page runs the fp32 variant.',
    '',
    '| backend | variant | ready, cold | first result, cold | ready, cached | first result, cached | cached / cold |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    const c = median(r.cold.map((t) => t.firstResultMs));
    const w = median(r.cached.map((t) => t.firstResultMs));
    md.push(
      `| ${r.backend}${r.backend === 'webgpu' ? ' (SwiftShader)' : ''} | ${r.cold[0]?.variant} | ${median(r.cold.map((t) => t.readyMs))} ms | ${c} ms | ${median(r.cached.map((t) => t.readyMs))} ms | ${w} ms | ${(w / c).toFixed(2)} |`,
    );
  }
  md.push('', `Page JavaScript (app + worker + chunks + service worker, minified): ${(jsBytes.raw / 1024).toFixed(1)} KiB raw, ${(jsBytes.gzip / 1024).toFixed(1)} KiB gzip (ORT's loader and wasm and the model not included).`, '');
  return md.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, backends: { type: 'string', default: 'wasm,webgpu' } } });
  const chromium = chromiumAvailable();
  if (!chromium.ok) {
    console.error(chromium.reason);
    process.exit(1);
  }
  const runs = Number(values.runs);
  const { results } = await benchBrowser({ runs, backends: values.backends!.split(',') as ('wasm' | 'webgpu')[] });
  const { jsBytes } = await buildWeb();
  const dir = path.join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `${new Date().toISOString().slice(0, 10)}-${os.hostname().split('.')[0]}-browser`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ date: new Date().toISOString(), cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, runs, jsBytes, results }, null, 1)}\n`);
  const md = report(results, runs, jsBytes);
  writeFileSync(`${base}.md`, md);
  console.log(md);
}
