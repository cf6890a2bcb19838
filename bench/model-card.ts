// npm run bench:model-card [-- --models rn50-random,vit-l-14-random --latency wasm,node --runs 3]
// The Workers plan of OpenAI's model card: one row per model folder under models/ (the stand-ins
// `npm run models:build -- <name>-random` builds), from what has been measured, never estimated:
//   parameters (manifest / the fp32 vision graph), fp32 and int8 vision file sizes (.onnx, .ort),
//   the int8 gate's cosine to fp32 (manifest.quantization, from `clip-edge quantize --verify`),
//   the exactness check against open_clip (reference-check.json, from models:build),
//   batch-1 latency of the int8 vision tower on Node's WASM and onnxruntime-node (this script,
//   `--latency`: median of `--runs` inferences of a 1 MP photo after one warm-up),
//   Workers peak memory in place (bench/results/workers-memory.json, from `npm run workers:memory`),
//   and whether one Worker holds it with a 12 MP photo (measured peak ≤ 128 MiB).
// Rows merge into bench/results/model-card.{json,md}; a field not measured yet says so.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readOnnx, tensorCount } from '../quantize/onnx/io.ts';
import { createNodeClipEdge } from '../src/runtime/fs/create.ts';
import type { MemoryRow, MemoryTable } from '../scripts/workers-budget.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = path.join(ROOT, 'bench/results/model-card');
const MIB = 1024 * 1024;
const LIMIT = 128 * MIB;
/** OpenAI's model card, in its order: [folder, title]. */
const CARD = [
  ['rn50-random', 'RN50'], ['rn101-random', 'RN101'], ['rn50x4-random', 'RN50x4'], ['rn50x16-random', 'RN50x16'], ['rn50x64-random', 'RN50x64'],
  ['vit-b-32-random', 'ViT-B/32'], ['vit-b-16-random', 'ViT-B/16'], ['vit-l-14-random', 'ViT-L/14'], ['vit-l-14-336-random', 'ViT-L/14@336px'],
] as const;
const PHOTO = 'test/fixtures/pil/inputs/baseline-420.jpg';

const { values: args } = parseArgs({ options: { models: { type: 'string' }, latency: { type: 'string' }, runs: { type: 'string' } } });
const wanted = args.models ? args.models.split(',') : CARD.map(([id]) => id);
const latencyBackends = args.latency ? args.latency.split(',') : [];
const runs = Number(args.runs ?? 3);

interface Row {
  model: string;
  title: string;
  imageSize?: number;
  visionParameters?: number;
  textParameters?: number;
  fp32VisionBytes?: number;
  int8VisionBytes?: number;
  int8OrtBytes?: number;
  int8Gate?: { cosineMean: number; cosineMin: number; n: number; passed: boolean; ortCosineMin?: number };
  openClipCheck?: { minImageCosine: number; minTextCosine?: number; backend: string };
  latencyMs?: Record<string, { int8: number; runs: number; measuredAt: string; cpu: string; loadAverage: number }>;
  workers?: { loadedMiB: number; peak12MpMiB: number; decode12Mp: string; decodeBudgetMiB: number; peakMaxMiB: number; fits: boolean };
  /** The tower split across Workers: each part's peak (workers:memory --parts) and the chain end to end (bench:workers-split). */
  split?: { parts: number; largestPeakMiB: number; minCosine: number; photos: number };
}

const readJson = <T>(file: string): T | undefined => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined);
const prior = new Map((readJson<{ rows: Row[] }>(`${OUT}.json`)?.rows ?? []).map((r) => [r.model, r]));
const memory = readJson<MemoryTable>(path.join(ROOT, 'bench/results/workers-memory.json'));
const partMemory = readJson<{ rows: { model: string; parts: number; run: { peakMeasured: number } }[] }>(path.join(ROOT, 'bench/results/workers-memory-parts.json'));

type Manifest = {
  imageSize?: number;
  parameters?: { vision: number; text: number };
  variants?: Record<string, { vision?: { bytes?: number; ort?: { bytes?: number } } }>;
  quantization?: { int8?: { vision?: { cosine: { mean: number; min: number; n: number }; gate: { passed: boolean }; ort?: { cosine: { min: number } } } } };
};

async function rowOf(id: string, title: string): Promise<Row> {
  const dir = path.join(ROOT, 'models', id);
  const row: Row = { ...prior.get(id), model: id, title };
  const m = readJson<Manifest>(path.join(dir, 'manifest.json'));
  if (!m) return row;
  row.imageSize = m.imageSize;
  const fp32 = m.variants?.fp32?.vision;
  row.fp32VisionBytes = fp32?.bytes;
  row.int8VisionBytes = m.variants?.int8?.vision?.bytes;
  row.int8OrtBytes = m.variants?.int8?.vision?.ort?.bytes;
  if (m.parameters) {
    row.visionParameters = m.parameters.vision;
    row.textParameters = m.parameters.text;
  } else if (row.visionParameters === undefined && existsSync(path.join(dir, 'onnx/vision_model.onnx'))) {
    // Folders made before parameters were recorded (vit-b-32-random): the graph's initializers.
    row.visionParameters = tensorCount((await readOnnx(path.join(dir, 'onnx/vision_model.onnx'))).decode());
  }
  const q = m.quantization?.int8?.vision;
  if (q) row.int8Gate = { cosineMean: q.cosine.mean, cosineMin: q.cosine.min, n: q.cosine.n, passed: q.gate.passed, ...(q.ort ? { ortCosineMin: q.ort.cosine.min } : {}) };
  const check = readJson<{ minImageCosine: number; minTextCosine?: number; backend: string }>(path.join(dir, 'reference-check.json'));
  if (check) row.openClipCheck = { minImageCosine: check.minImageCosine, minTextCosine: check.minTextCosine, backend: check.backend };
  const mem = memory?.rows.find((r: MemoryRow) => r.model === id && r.variant === 'int8' && !r.text && r.inPlace);
  if (mem) {
    const twelve = mem.requests.find((r) => r.pixels === 12_000_000 && !r.concurrent && !r.size.includes('progressive'));
    const peaks = mem.requests.map((r) => r.peakMeasured ?? 0);
    row.workers = {
      loadedMiB: (mem.loaded.ortWasm + mem.loaded.jsHeapUsed) / MIB,
      peak12MpMiB: (twelve?.peakMeasured ?? 0) / MIB,
      decode12Mp: twelve?.decode ?? '?',
      // `auto` (what the model leaves) unless workers:memory was given a fixed --budget because auto left nothing.
      decodeBudgetMiB: (twelve?.decodeBudget ?? 0) / MIB,
      peakMaxMiB: Math.max(...peaks) / MIB,
      fits: Math.max(...peaks) <= LIMIT && twelve?.decode !== undefined && !twelve.decode.startsWith('refused'),
    };
  }
  const chain = readJson<{ parts: unknown[]; minCosine: number; rows: unknown[] }>(path.join(ROOT, `bench/results/workers-split-${id}.json`));
  const partPeaks = partMemory?.rows.filter((r) => r.model === id && r.parts === chain?.parts.length).map((r) => r.run.peakMeasured);
  if (chain && partPeaks?.length === chain.parts.length) {
    row.split = { parts: chain.parts.length, largestPeakMiB: Math.max(...partPeaks) / MIB, minCosine: chain.minCosine, photos: chain.rows.length };
  }
  for (const backend of latencyBackends) {
    if (!m.variants?.int8?.vision) continue;
    console.error(`${id}: int8 vision on ${backend}, ${runs} runs…`);
    const clip = await createNodeClipEdge({ model: dir, backend, visionVariant: 'int8', text: false, threads: 1 });
    const bytes = new Uint8Array(readFileSync(path.join(ROOT, PHOTO)));
    await clip.embedImage(bytes); // warm-up: session creation
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) ms.push((await clip.embedImage(bytes)).timings.inferenceMs);
    await clip.close();
    ms.sort((a, b) => a - b);
    row.latencyMs = { ...row.latencyMs, [backend]: { int8: Math.round(ms[ms.length >> 1]! * 10) / 10, runs, measuredAt: new Date().toISOString(), cpu: `${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}`, loadAverage: os.loadavg()[0]! } };
  }
  return row;
}

const rows: Row[] = [];
for (const [id, title] of CARD) rows.push(wanted.includes(id) ? await rowOf(id, title) : (prior.get(id) ?? { model: id, title }));

const NM = 'not measured';
/** "yes" / "no" for one Worker; a tower that runs split across Workers says in how many, its largest part's peak and the chain's cosine to the whole tower. */
function fitsCell(r: Row): string {
  const one = r.workers ? (r.workers.fits ? `yes (largest ${r.workers.peakMaxMiB.toFixed(1)})` : `no (largest ${r.workers.peakMaxMiB.toFixed(1)})`) : r.int8OrtBytes !== undefined && r.int8OrtBytes > LIMIT ? 'no: the int8 .ort alone exceeds 128 MiB' : NM;
  if (!r.split) return one;
  // The part table's limit (workers:memory --parts): 128 MB decimal, 122.1 MiB.
  const over = r.split.largestPeakMiB * MIB > 128e6;
  return `${one}; **${r.split.parts} parts${over ? ' do not fit either' : ''}**: largest part's peak ${r.split.largestPeakMiB.toFixed(1)}${over ? ' (over 128 MB)' : ''}, chain = whole tower (cosine ≥ ${r.split.minCosine.toFixed(7)}, ${r.split.photos} photos)`;
}
const mib = (b?: number) => (b === undefined ? NM : `${(b / MIB).toFixed(1)}`);
const mParams = (n?: number) => (n === undefined ? NM : `${(n / 1e6).toFixed(1)} M`);
const md = [
  '# The model card through the kit',
  '',
  'Stand-ins with random weights at the full shapes of OpenAI\'s card (`npm run models:build -- <name>-random`), one row per model;',
  `made by \`npm run bench:model-card\` (bench/model-card.ts) from what was measured — "${NM}" where nothing was.`,
  'Vision tower only (the edge path: prompts come from the cache). Latency: batch 1, 1 thread, int8 vision, median, inference only (a 420 px JPEG),',
  'on a shared 2-core machine with other sessions\' builds running: each latency cell gives the 1-minute load average when it was measured (2 = the machine\'s cores); they are not comparable across rows with different loads.',
  'Workers: `npm run workers:memory -- --model models/<name> --variants int8 --text no --in-place yes` in local workerd (which does not enforce 128 MB).',
  '',
  '| model | input | image params | text params | fp32 vision MiB | int8 .onnx MiB | int8 .ort MiB | int8 gate cosine mean / min (n) | = open_clip: min cosine (fp32, photos + prompts) | WASM int8 ms | onnxruntime-node int8 ms | Workers: loaded MiB | 12 MP peak MiB | fits one Worker (12 MP) |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | --- |',
  ...rows.map((r) =>
    [
      `${r.title} (\`${r.model}\`)`,
      r.imageSize ? `${r.imageSize} px` : NM,
      mParams(r.visionParameters),
      mParams(r.textParameters),
      mib(r.fp32VisionBytes),
      mib(r.int8VisionBytes),
      mib(r.int8OrtBytes),
      r.int8Gate ? `${r.int8Gate.cosineMean.toFixed(5)} / ${r.int8Gate.cosineMin.toFixed(5)} (${r.int8Gate.n})${r.int8Gate.passed ? '' : ' FAILED'}` : NM,
      r.openClipCheck ? `1 − ${Math.max(1e-12, 1 - Math.min(r.openClipCheck.minImageCosine, r.openClipCheck.minTextCosine ?? 1)).toExponential(0)}` : r.model === 'vit-b-32-random' ? 'own recipe' : NM,
      r.latencyMs?.wasm ? `${r.latencyMs.wasm.int8} (load ${r.latencyMs.wasm.loadAverage?.toFixed(0) ?? '?'})` : NM,
      r.latencyMs?.node ? `${r.latencyMs.node.int8} (load ${r.latencyMs.node.loadAverage?.toFixed(0) ?? '?'})` : NM,
      r.workers ? r.workers.loadedMiB.toFixed(1) : NM,
      r.workers ? `${r.workers.peak12MpMiB.toFixed(1)} (${r.workers.decode12Mp}, decode budget ${r.workers.decodeBudgetMiB.toFixed(1)})` : NM,
      fitsCell(r),
    ].join(' | '),
  ).map((l) => `| ${l} |`),
  '',
];
writeFileSync(`${OUT}.json`, `${JSON.stringify({ updatedAt: new Date().toISOString(), rows }, null, 1)}\n`);
writeFileSync(`${OUT}.md`, md.join('\n'));
console.log(md.join('\n'));
