// npm run bench:workers-split [-- --model models/vit-l-14-random --photos 8]
//
// A vision tower split across Workers, end to end in workerd: the vision Worker (the production
// worker.ts behind bench/workers/bench-worker.ts) and one part Worker per part
// (wrangler.vision-part.toml, configs written by scripts/workers-split-config.ts), all under one
// `wrangler dev --local` with their service bindings, the parts' .ort files in local R2 as
// `npm run workers:upload` lays them out. Real photos through POST /v1/embed/image; Node embeds the
// same files with onnxruntime-web's WASM backend and the WHOLE tower (the same int8 variant's .ort in
// place). Reports the cosine per photo, the cold start of the chain, and per image the end-to-end
// latency (client-timed) and the CPU time workerd spent (all Workers together: decode, preprocess,
// every part, the RPC hops), read from /proc. Writes bench/results/workers-split-<model>.{md,json}; exits 1
// when a cosine is under 0.99999. Each part's memory: `npm run workers:memory -- --parts`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readModelInfo } from '../src/core/model/info.ts';
import { splitVariantOf, visionPartsOf } from '../src/core/vision-parts.ts';
import { wasmBackend } from '../src/runtime/fs/ort.ts';
import { createNodeClipEdge } from '../src/runtime/fs/create.ts';
import { fsModelSource } from '../src/runtime/fs/model-source.ts';
import { WORKERS_VARIANT_ORDER } from '../src/runtime/workers/variants.ts';
import { uploadPlan } from '../scripts/workers-plan.ts';
import { splitConfigs } from '../scripts/workers-split-config.ts';
import { ROOT } from './lib/case.ts';
import { benchPhotos, readPhotos } from './lib/photos.ts';
import { startWranglerDev } from './lib/wrangler-dev.ts';

const MIN_COSINE = 0.99999;
const { values: args } = parseArgs({ options: { model: { type: 'string' }, photos: { type: 'string' } } });
const MODEL = path.resolve(ROOT, args.model ?? 'models/vit-b-32-random');
const MODEL_ID = path.basename(MODEL);
const WORK = path.join(ROOT, '.cache/bench-split');
const PERSIST = path.join(WORK, 'state');

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** CPU seconds (user + system) of every workerd process under this one (wrangler dev's children), from /proc. */
function workerdCpuSeconds(): number {
  const tick = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  const stats = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    try {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      return [{ pid: Number(pid), comm, ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / tick }];
    } catch {
      return [];
    }
  });
  const mine = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of stats) if (!mine.has(p.pid) && mine.has(p.ppid)) [grew] = [true, mine.add(p.pid)];
  }
  return stats.filter((p) => mine.has(p.pid) && p.comm.startsWith('workerd')).reduce((a, p) => a + p.cpu, 0);
}

function writeConfigs(parts: number): string[] {
  mkdirSync(WORK, { recursive: true });
  const rel = (p: string) => path.relative(WORK, path.join(ROOT, p)).split(path.sep).join('/');
  const visionToml = readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8')
    .replace(/\n\[assets\][\s\S]*?(?=\n\[)/, '\n')
    // No text Worker here: the bench embeds images only.
    .replace(/\n\[\[services\]\]\nbinding = "TEXT"\n[^\n]*\n[^\n]*\n/, '\n');
  const c = splitConfigs({ visionToml, partToml: readFileSync(path.join(ROOT, 'wrangler.vision-part.toml'), 'utf8'), model: MODEL_ID, parts, rel, visionMain: 'bench/workers/bench-worker.ts' });
  const files = [['wrangler.toml', c.vision], ...c.parts.map((t, i) => [`wrangler.vision-part-${i + 1}.toml`, t])] as const;
  for (const [f, t] of files) writeFileSync(path.join(WORK, f), t);
  return files.flatMap(([f]) => ['-c', path.join(WORK, f)]);
}

async function main(): Promise<number> {
  const info = await readModelInfo(fsModelSource(MODEL));
  const variant = splitVariantOf(info, 'auto', WORKERS_VARIANT_ORDER);
  const parts = visionPartsOf(info, variant);
  const set = benchPhotos(Number(args.photos ?? 8));
  const photos = readPhotos(set.files);

  console.error(`Node: onnxruntime-web WASM, the whole ${variant} tower in place`);
  const node = await createNodeClipEdge({ model: MODEL, text: false, visionVariant: variant, backends: [wasmBackend({ inPlace: true })] });
  const ref: Float32Array[] = [];
  const nodeMs: number[] = [];
  for (const p of photos) {
    const r = await node.embedImage(p);
    ref.push(r.embedding);
    nodeMs.push(r.timings.inferenceMs);
  }
  await node.close();

  console.error(`workerd: the vision Worker + ${parts.length} part Workers, parts from local R2`);
  mkdirSync(PERSIST, { recursive: true });
  const dev = await startWranglerDev({}, PERSIST, writeConfigs(parts.length));
  const rows: { file: string; decode: string; cosine: number; ms: number; cpuMs: number }[] = [];
  let coldMs = 0;
  let coldCpuMs = 0;
  try {
    const files = readdirSync(MODEL, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(MODEL, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
    for (const o of uploadPlan(files, info.variants, { model: MODEL_ID, variant, text: false, visionParts: parts }).r2) {
      const file = path.join(MODEL, o.path);
      console.error(`  R2 ${o.key} (${(statSync(file).size / 2 ** 20).toFixed(1)} MiB)`);
      const r = await fetch(`${dev.url}/bench/put?key=${encodeURIComponent(o.key)}`, { method: 'POST', body: new Uint8Array(readFileSync(file)) });
      if (!r.ok) throw new Error(`put ${o.key}: ${r.status}`);
    }
    const embed = async (p: Uint8Array) => {
      const cpu0 = workerdCpuSeconds();
      const t0 = performance.now();
      const r = await fetch(`${dev.url}/v1/embed/image`, { method: 'POST', body: p as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'image/jpeg' }, signal: AbortSignal.timeout(600_000) });
      const text = await r.text();
      const ms = performance.now() - t0;
      if (!r.ok || !text.startsWith('{')) throw new Error(`${r.status} after ${ms.toFixed(0)} ms: ${text.slice(0, 500)}`);
      const j = JSON.parse(text) as { embedding: number[]; image: { decode: string } };
      return { j, ms, cpuMs: (workerdCpuSeconds() - cpu0) * 1000 };
    };
    // The first request: every part Worker streams, hashes and loads its part (one after another, as the chain reaches it).
    const cold = await embed(photos[0]!);
    [coldMs, coldCpuMs] = [cold.ms, cold.cpuMs];
    console.error(`  cold chain: ${coldMs.toFixed(0)} ms, ${coldCpuMs.toFixed(0)} ms CPU`);
    for (const [i, p] of photos.entries()) {
      const { j, ms, cpuMs } = await embed(p);
      rows.push({ file: path.basename(set.files[i]!), decode: j.image.decode, cosine: dot(j.embedding, ref[i]!), ms, cpuMs });
      console.error(`  ${rows.at(-1)!.file}: cosine ${rows.at(-1)!.cosine.toFixed(7)}, ${ms.toFixed(0)} ms, ${cpuMs.toFixed(0)} ms CPU`);
    }
  } finally {
    await dev.stop();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const result = {
    measuredAt: new Date().toISOString(),
    model: MODEL_ID,
    variant,
    parts: parts.map((p) => ({ file: p.ort?.file ?? p.file, bytes: p.ort?.bytes ?? p.bytes, input: p.input, output: p.output })),
    photos: set.source,
    minCosine: Math.min(...rows.map((r) => r.cosine)),
    gate: MIN_COSINE,
    coldStart: { ms: Math.round(coldMs), cpuMs: Math.round(coldCpuMs) },
    perImage: { msMedian: Math.round(median(rows.map((r) => r.ms))), cpuMsMedian: Math.round(median(rows.map((r) => r.cpuMs))), nodeWholeInferenceMsMedian: Math.round(median(nodeMs)) },
    rows,
  };
  const md = [
    `# ${MODEL_ID}: the vision tower split across ${parts.length} Workers vs Node's whole tower`,
    '',
    `Measured ${result.measuredAt.slice(0, 16).replace('T', ' ')} UTC by \`npm run bench:workers-split -- --model ${path.relative(ROOT, MODEL)}\` (bench/workers-split.ts):`,
    `the vision Worker and ${parts.length} part Workers under one \`wrangler dev --local\` (workerd, service bindings, Workers RPC), each part's`,
    `\`.ort\` loaded in place from local R2; \`POST /v1/embed/image\`. Node: onnxruntime-web WASM, the whole ${variant} tower's \`.ort\` in place.`,
    `Photos: ${set.source}. Cosines of unit embeddings; gate ≥ ${MIN_COSINE}. Latency: the client's round trip; CPU: user + system`,
    'time of the workerd process over the request (all Workers: decode, preprocess, every part, the hops), from /proc; one thread, shared 2-core machine.',
    '',
    `Parts: ${result.parts.map((p, k) => `${k + 1}. \`${p.file}\` (${((p.bytes ?? 0) / 2 ** 20).toFixed(1)} MiB)`).join('; ')}.`,
    '',
    `Cold chain (fresh isolates, every part streamed from R2, hashed and loaded on the first request): ${result.coldStart.ms} ms, ${result.coldStart.cpuMs} ms of CPU.`,
    '',
    '| photo | decode (Worker) | cosine to Node whole tower | end-to-end ms | CPU ms |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.file} | ${r.decode} | ${r.cosine.toFixed(7)} | ${r.ms.toFixed(0)} | ${r.cpuMs.toFixed(0)} |`),
    `| **min / median** | | **${result.minCosine.toFixed(7)}** | **${result.perImage.msMedian}** | **${result.perImage.cpuMsMedian}** |`,
    '',
    `Node, whole tower, inference only (median): ${result.perImage.nodeWholeInferenceMsMedian} ms per image.`,
    '',
  ].join('\n');
  const base = path.join(ROOT, 'bench/results', `workers-split-${MODEL_ID}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(`${base}.md`, md);
  console.log(md);
  return result.minCosine >= MIN_COSINE && rows.length >= 4 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(2);
  },
);
