// npm run bench:workers-text [-- --model models/vit-b-32-random --photos 12]
//
// The vision Worker and the text Worker together in workerd (`wrangler dev --local` with both configs:
// bench/workers/bench-worker.ts — the production worker.ts plus /bench/* routes — bound to
// src/runtime/workers/text-worker.ts as TEXT), the model folder in local R2 as `workers:upload` lays it
// out (both towers' int8 .ort, in place), KV for the prompt cache. Against Node (onnxruntime-web WASM,
// the same int8 variants): five inline labels never cached (same top-1, scores within 1e-4), the same
// request again after a restart (fresh isolates: answered from KV, the text Worker called 0 times),
// /v1/embed/text (cosine ≥ 0.99999), the top 10 of a text query over Node's image embeddings ranked by
// the Worker's and Node's query embeddings (Vectorize has no local emulation; the workerd tests run
// /v1/search against the stand-in on tiny-clip), and the time of an uncached prompt.
// Writes bench/results/workers-text.{md,json}; exits 1 when a check fails.
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readModelInfo } from '../src/core/model/info.ts';
import { memoryPromptCacheStore } from '../src/core/prompt-cache/store.ts';
import { createNodeClipEdge } from '../src/runtime/fs/create.ts';
import { fsModelSource } from '../src/runtime/fs/model-source.ts';
import { uploadPlan } from '../scripts/workers-plan.ts';
import { ROOT } from './lib/case.ts';
import { benchPhotos, readPhotos } from './lib/photos.ts';
import { startWranglerDev } from './lib/wrangler-dev.ts';

const { values: args } = parseArgs({ options: { model: { type: 'string' }, photos: { type: 'string' } } });
const MODEL = path.resolve(ROOT, args.model ?? 'models/vit-b-32-random');
const MODEL_ID = path.basename(MODEL);
const WORK = path.join(ROOT, '.cache/bench-workers-text');
const LABELS = ['a red bicycle', 'a golden retriever', 'a sandy beach', 'a plate of pasta', 'a city street at night'];
const QUERY = 'a dog running on the grass';
let dynamicText = false;
const FRESH = Array.from({ length: 16 }, (_, i) => `a photo of thing number ${i} in the bench`);

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const top10 = (q: ArrayLike<number>, images: Float32Array[]) => images.map((e, i) => [dot(q, e), i] as const).sort((a, b) => b[0] - a[0]).slice(0, 10).map(([, i]) => i);

/** Both configs, the model id set in both, the vision Worker's main the bench Worker, no static assets. */
function writeConfigs(): string[] {
  mkdirSync(WORK, { recursive: true });
  const rel = (p: string) => path.relative(WORK, path.join(ROOT, p)).split(path.sep).join('/');
  const vision = readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8')
    .replace(/^main = .*$/m, `main = "${rel('bench/workers/bench-worker.ts')}"`)
    .replace(/^CLIP_EDGE_MODEL = .*$/m, `CLIP_EDGE_MODEL = "${MODEL_ID}"`)
    .replace(/\n\[assets\][\s\S]*?(?=\n\[)/, '\n');
  const text = readFileSync(path.join(ROOT, 'wrangler.text.toml'), 'utf8')
    .replace(/^main = .*$/m, `main = "${rel('src/runtime/workers/text-worker.ts')}"`)
    .replace(/^CLIP_EDGE_MODEL = .*$/m, `CLIP_EDGE_MODEL = "${MODEL_ID}"`);
  writeFileSync(path.join(WORK, 'wrangler.toml'), vision);
  writeFileSync(path.join(WORK, 'wrangler.text.toml'), text);
  return ['-c', path.join(WORK, 'wrangler.toml'), '-c', path.join(WORK, 'wrangler.text.toml')];
}

async function post(url: string, body: BodyInit, type: string): Promise<Record<string, unknown>> {
  const r = await fetch(url, { method: 'POST', body, headers: { 'content-type': type }, signal: AbortSignal.timeout(600_000) });
  const j = (await r.json()) as Record<string, unknown>;
  if (!r.ok) throw new Error(`${url}: ${r.status} ${JSON.stringify(j.error)}`);
  return j;
}

async function main(): Promise<number> {
  const info = await readModelInfo(fsModelSource(MODEL));
  const manifest = JSON.parse(readFileSync(path.join(MODEL, 'manifest.json'), 'utf8')) as { quantization?: { passOptions?: { dynamicText?: boolean } } };
  dynamicText = manifest.quantization?.passOptions?.dynamicText === true;
  if (!info.variants.int8?.text?.ort || !info.variants.int8?.vision?.ort) throw new Error(`${MODEL}: clip-edge quantize ${path.relative(ROOT, MODEL)} --variants int8 --ort int8`);
  const set = benchPhotos(Number(args.photos ?? 12));
  const photos = readPhotos(set.files);
  console.error('Node: onnxruntime-web WASM, int8 vision and text');
  const node = await createNodeClipEdge({ model: MODEL, backend: 'wasm', visionVariant: 'int8', textVariant: 'int8', promptCache: memoryPromptCacheStore() });
  const nodeClassify = [];
  for (const p of photos.slice(0, 4)) nodeClassify.push((await node.classify(p, { labels: LABELS, topK: 5 })).results);
  const nodeQuery = (await node.embedText([QUERY])).embeddings[0]!;
  const images: Float32Array[] = [];
  for (const p of photos) images.push((await node.embedImage(p)).embedding);

  const configs = writeConfigs();
  const persist = path.join(WORK, 'state');
  rmSync(persist, { recursive: true, force: true }); // empty R2 and KV: nothing cached from an earlier run
  let dev = await startWranglerDev({}, persist, configs);
  const rows: Record<string, unknown>[] = [];
  let result: Record<string, unknown>;
  try {
    const files = readdirSync(MODEL, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(MODEL, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
    for (const o of uploadPlan(files, info.variants, { model: MODEL_ID, variant: 'int8', text: false, textWorker: 'int8' }).r2) {
      console.error(`  R2 ${o.key} (${(statSync(path.join(MODEL, o.path)).size / 2 ** 20).toFixed(1)} MiB)`);
      const r = await fetch(`${dev.url}/bench/put?key=${encodeURIComponent(o.key)}`, { method: 'POST', body: new Uint8Array(readFileSync(path.join(MODEL, o.path))) });
      if (!r.ok) throw new Error(`put ${o.key}: ${r.status}`);
    }
    const url = `${dev.url}/v1/classify?labels=${LABELS.map(encodeURIComponent).join(',')}&topK=5`;
    let maxScoreDiff = 0;
    let sameTop1 = 0;
    for (const [i, p] of photos.slice(0, 4).entries()) {
      const t0 = performance.now();
      const w = (await post(url, p as BodyInit, 'image/jpeg')) as { results: { label: string; score: number }[]; classes: { source: string } };
      const n = nodeClassify[i]!;
      sameTop1 += w.results[0]!.label === n[0]!.label ? 1 : 0;
      for (const x of n) maxScoreDiff = Math.max(maxScoreDiff, Math.abs(w.results.find((y) => y.label === x.label)!.score - x.score));
      rows.push({ photo: path.basename(set.files[i]!), top1Worker: w.results[0]!.label, top1Node: n[0]!.label, source: w.classes.source, ms: Math.round(performance.now() - t0) });
      console.error(`  ${JSON.stringify(rows.at(-1))}`);
    }
    const textCalls = ((await (await fetch(`${dev.url}/bench/text-info`)).json()) as { calls: number; texts: number });
    const embed = (await post(`${dev.url}/v1/embed/text`, JSON.stringify({ texts: [QUERY] }), 'application/json')) as { embeddings: number[][] };
    const cos = dot(embed.embeddings[0]!, nodeQuery);
    const wTop = top10(embed.embeddings[0]!, images);
    const nTop = top10(nodeQuery, images);
    // Sixteen prompts no cache holds, one call (warm): the wall time per uncached prompt.
    const t1 = performance.now();
    await post(`${dev.url}/v1/embed/text`, JSON.stringify({ texts: FRESH }), 'application/json');
    const msPerPrompt = (performance.now() - t1) / FRESH.length;
    // Fresh isolates (KV and R2 persisted): the same classify is answered from KV, the text Worker never called.
    await dev.stop();
    dev = await startWranglerDev({}, persist, configs);
    // wrangler dev answers /bench/ping before both Workers are wired up: retry a refused connection.
    const retry = async <T>(f: () => Promise<T>): Promise<T> => {
      for (let i = 0; ; i++) {
        try {
          return await f();
        } catch (e) {
          if (i >= 10 || !/fetch failed/.test(String(e))) throw e;
          await new Promise((r) => setTimeout(r, 2000));
        }
      }
    };
    const again = (await retry(() => post(`${dev.url}${new URL(url).pathname}${new URL(url).search}`, photos[0]! as BodyInit, 'image/jpeg'))) as { classes: { source: string } };
    const afterRestart = (await (await fetch(`${dev.url}/bench/text-info`)).json()) as { calls: number };
    result = {
      measuredAt: new Date().toISOString(),
      model: MODEL_ID,
      photos: set.source,
      labels: LABELS,
      sameTop1: `${sameTop1}/${nodeClassify.length}`,
      maxScoreDiff,
      firstRunTextCalls: textCalls,
      embedTextCosine: cos,
      searchTop10Same: JSON.stringify(wTop) === JSON.stringify(nTop),
      msPerUncachedPrompt: Math.round(msPerPrompt),
      afterRestart: { source: again.classes.source, textWorkerCalls: afterRestart.calls },
      rows,
    };
  } finally {
    await dev.stop();
  }
  const ok = result.sameTop1 === `${nodeClassify.length}/${nodeClassify.length}` && (result.maxScoreDiff as number) < 1e-4 && (result.embedTextCosine as number) >= 0.99999 && result.searchTop10Same === true && (result.afterRestart as { textWorkerCalls: number }).textWorkerCalls === 0;
  const md = [
    '# Both Workers in workerd vs Node: labels written at request time and text queries',
    '',
    `Measured ${String(result.measuredAt).slice(0, 16).replace('T', ' ')} UTC by \`npm run bench:workers-text\` (bench/workers-text.ts) on ${MODEL_ID}: the vision Worker and the text Worker`,
    '(`wrangler dev --local -c wrangler.toml -c wrangler.text.toml`, TEXT service binding, both int8 `.ort` towers in place from local R2, KV prompt cache)',
    `against Node's onnxruntime-web (WASM, int8 vision and text). Photos: ${set.source}. Shared 2-core machine, one run.`,
    '',
    '| check | result |',
    '| --- | --- |',
    `| \`/v1/classify?labels=<5 labels never cached>\`: same top-1 as Node | ${String(result.sameTop1)} |`,
    `| … largest score difference to Node | ${(result.maxScoreDiff as number).toExponential(2)} (gate < 1e-4) |`,
    `| … text Worker calls for the first request / texts embedded (4 photos, the same labels) | ${textCallsText(result.firstRunTextCalls)} |`,
    `| the same request after a restart (fresh isolates): classes from / text Worker calls | ${(result.afterRestart as { source: string }).source} / ${(result.afterRestart as { textWorkerCalls: number }).textWorkerCalls} |`,
    `| \`/v1/embed/text\` cosine to Node | ${(result.embedTextCosine as number).toFixed(7)} (gate ≥ 0.99999) |`,
    `| top 10 of "${QUERY}" over the ${photos.length} photos' Node embeddings, Worker's query vs Node's | ${result.searchTop10Same ? 'same' : 'different'} |`,
    `| wall time per uncached prompt (16 prompts in one \`/v1/embed/text\`, warm; the text variant's sequence axis is ${dynamicText ? 'dynamic: real length' : 'fixed: 77 positions'}) | ${String(result.msPerUncachedPrompt)} ms |`,
    '',
    '| photo | top-1 Worker | top-1 Node | classes from | ms (client) |',
    '| --- | --- | --- | --- | ---: |',
    ...rows.map((r) => `| ${String(r.photo)} | ${String(r.top1Worker)} | ${String(r.top1Node)} | ${String(r.source)} | ${String(r.ms)} |`),
    '',
  ].join('\n');
  writeFileSync(path.join(ROOT, 'bench/results/workers-text.json'), `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(path.join(ROOT, 'bench/results/workers-text.md'), md);
  console.log(md);
  return ok ? 0 : 1;
}

const textCallsText = (c: unknown) => {
  const x = c as { calls: number; texts: number };
  return `${x.calls} / ${x.texts}`;
};

process.exit(await main());
