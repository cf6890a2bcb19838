// workerd (Cloudflare Workers' runtime, `wrangler dev --local`, offline): cold start (wrangler
// spawn → first classify answer, in a fresh workerd process), warm classify latency, and the
// vision forward pass per variant as the Worker runs it (ORT-web WASM, one thread, precompiled wasm).
// The model folder is put into the local R2 bucket first (persisted, skipped when already there).
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readModelInfo } from '../../src/core/model/info.ts';
import type { Precision } from '../../src/core/precision.ts';
import { fsModelSource } from '../../src/runtime/fs/model-source.ts';
import { uploadPlan } from '../../scripts/workers-plan.ts';
import { caseMain } from '../lib/case.ts';
import { readPhotos } from '../lib/photos.ts';
import { classifyOver, coldStartQuery } from '../lib/server.ts';
import { median, MiB, summarise, timeRuns, type Summary } from '../lib/stats.ts';
import { startWranglerDev } from '../lib/wrangler-dev.ts';

export interface WorkerdArgs {
  model: string;
  variants: Precision[];
  iterations: number;
  photos: string[];
  cacheDir: string;
  /** Variants whose file is larger are not sent into workerd (they could never fit a 128 MB isolate). */
  maxModelMiB: number;
  /** Untimed forward passes per variant before timing. */
  warmupRuns: number;
}

const post = async (url: string, body?: Uint8Array) => {
  const r = await fetch(url, { method: body ? 'POST' : 'GET', ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {}) });
  const j = (await r.json()) as { error?: string } & Record<string, unknown>;
  if (!r.ok) throw new Error(`${url}: ${j.error ?? r.status}`);
  return j;
};

caseMain(async (a: WorkerdArgs) => {
  const info = await readModelInfo(fsModelSource(a.model));
  const { query, what } = coldStartQuery(a.model);
  const text = !query.has('labelSet');
  const vars: Record<string, string> = { CLIP_EDGE_MODEL: info.id, CLIP_EDGE_TEXT: String(text), CLIP_EDGE_MAX_PIXELS: '40000000' };
  const persist = path.join(a.cacheDir, 'wrangler-state');
  mkdirSync(persist, { recursive: true });
  const files = readdirSync(a.model, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(a.model, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
  const plan = uploadPlan(files, info.variants, { model: info.id, variant: 'auto', text });
  if (text && info.variants.int8?.text && plan.text !== 'int8') {
    // A Worker's memory calls for the int8 text tower (the upload plan's default is fp32, accuracy first).
    const fp = info.variants[plan.text!]!.text!.file;
    plan.r2 = plan.r2.filter((o) => o.path !== fp).concat({ key: `${info.id}/${info.variants.int8.text.file}`, path: info.variants.int8.text.file });
    Object.assign(vars, { CLIP_EDGE_TEXT_VARIANT: 'int8' });
  }
  const stamp = path.join(persist, `${info.id}.uploaded`);
  const key = JSON.stringify(plan.r2.map((o) => [o.key, statSync(path.join(a.model, o.path)).size, statSync(path.join(a.model, o.path)).mtimeMs]));
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== key) {
    const w = await startWranglerDev(vars, persist);
    try {
      for (const o of plan.r2) await post(`${w.url}/bench/put?key=${encodeURIComponent(o.key)}`, new Uint8Array(readFileSync(path.join(a.model, o.path))));
    } finally {
      await w.stop();
    }
    writeFileSync(stamp, key);
  }

  const photos = readPhotos(a.photos);
  const w = await startWranglerDev(vars, persist);
  try {
    const first = await classifyOver(w.url, photos[0]!, query);
    const firstAnswerMs = performance.now() - w.spawnedAt;
    const warm = await timeRuns(a.iterations, (i) => classifyOver(w.url, photos[Math.abs(i) % photos.length]!, query), a.iterations);
    const ping = await timeRuns(Math.max(10, a.iterations), () => post(`${w.url}/bench/ping`));
    const vision: Record<string, { forward: Summary; ortWasmMiB: number } | { skipped: string }> = {};
    for (const v of a.variants) {
      const entry = info.variants[v]?.vision;
      if (!entry) continue;
      const mib = (entry.bytes ?? 0) / MiB;
      if (mib > a.maxModelMiB) {
        vision[v] = { skipped: `${mib.toFixed(0)} MiB file: over the ${a.maxModelMiB} MiB the bench sends into workerd (a Worker has 128 MB in all)` };
        continue;
      }
      const s = await post(`${w.url}/bench/session?size=${info.preprocess.cropHeight}`, new Uint8Array(readFileSync(path.join(a.model, entry.file))));
      // workerd's V8 also starts wasm in its baseline compiler and cannot be given flags here: warm up longer.
      for (let i = 0; i < a.warmupRuns; i++) await post(`${w.url}/bench/run`);
      const ms: number[] = [];
      for (let i = 0; i < a.iterations; i++) {
        const t = performance.now();
        await post(`${w.url}/bench/run`);
        ms.push(performance.now() - t - ping.medianMs);
      }
      vision[v] = { forward: summarise(ms), ortWasmMiB: Number(s.ortWasmBytes ?? 0) / MiB };
    }
    return {
      runtime: 'workerd',
      backend: first.backend,
      variant: first.variant.vision,
      request: what,
      readyMs: w.readyMs,
      firstAnswerMs,
      firstRequestMs: firstAnswerMs - w.readyMs,
      warm,
      pingMs: median([ping.medianMs]),
      vision,
      command: 'wrangler dev bench/workers/bench-worker.ts --local (the production worker.ts behind it)',
    };
  } finally {
    await w.stop();
  }
});
