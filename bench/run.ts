// npm run bench [-- --model models/vit-b-32-random] [--iterations N] [--only classify,vision,…]
//               [--out DIR] [--no-readme] [--smoke] [--readme-only]
// clip-edge side by side with transformers.js (@huggingface/transformers) and native onnxruntime
// (onnxruntime-node) on the same model folder, machine and threads, in one run: end-to-end
// classify, vision forward per variant × backend (ORT-web WASM 1 and 2 threads, onnxruntime-node,
// workerd), preprocessing, the embedding cross-check, loopback HTTP throughput with and without
// micro-batching, cold start on Node/Deno/Bun/workerd, memory. Writes
// bench/results/<date>-<host>-bench-<model>.{json,md} and SVG charts, and regenerates docs/benchmarks.md's
// benchmark section from the latest result per model.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ClassifyResult } from './cases/classify.ts';
import { readModelInfo } from '../src/core/model/info.ts';
import { type Precision } from '../src/core/precision.ts';
import { DEFAULT_MODEL_DIR } from '../src/runtime/fs/create.ts';
import { fsModelSource } from '../src/runtime/fs/model-source.ts';
import { NODE_BENCH_FLAGS, ROOT, runCase as runCaseWith } from './lib/case.ts';
import { benchPhotos, TEMPLATE } from './lib/photos.ts';
import { type BenchResult, chartSvgs, reportMarkdown, type VisionEntry } from './lib/report.ts';
import { updateReadme } from './lib/readme.ts';
import { MiB } from './lib/stats.ts';
import { machine, versions } from './lib/system.ts';

/** The page whose benchmark section (between the markers of lib/readme.ts) each run regenerates. */
const BENCH_DOC = path.join(ROOT, 'docs/benchmarks.md');

const CASES = ['classify', 'vision', 'preprocess', 'crosscheck', 'throughput', 'cold-start', 'workerd'] as const;
type CaseName = (typeof CASES)[number];

interface Profile {
  name: string;
  photos: number;
  classify: { backend: 'wasm' | 'node'; dtype: Precision; labels: number; iterations: number }[];
  visionIterations: number;
  visionBackends: { backend: 'wasm' | 'node'; threads: number }[];
  visionVariants?: Precision[];
  preprocessIterations: number;
  crosscheckTexts: number;
  throughput: { backend: 'wasm' | 'node'; maxBatch: number }[];
  concurrency: number[];
  requests: number;
  coldStart: { runtime: 'node' | 'deno' | 'bun'; backend: 'wasm' | 'node' }[];
  warmIterations: number;
  workerdMaxMiB: number;
  workerdWarmup: number;
}

const e2e = (iterations: number, iterations100: number, backends: ['wasm' | 'node', Precision][]) =>
  backends.flatMap(([backend, dtype]) => [
    { backend, dtype, labels: 10, iterations },
    { backend, dtype, labels: 100, iterations: iterations100 },
  ]);

function profileFor(kind: 'smoke' | 'quick' | 'full'): Profile {
  const common = {
    visionBackends: [{ backend: 'wasm', threads: 1 }, { backend: 'wasm', threads: 2 }, { backend: 'node', threads: 1 }] as Profile['visionBackends'],
    throughput: [{ backend: 'node', maxBatch: 16 }, { backend: 'node', maxBatch: 1 }, { backend: 'wasm', maxBatch: 16 }, { backend: 'wasm', maxBatch: 1 }] as Profile['throughput'],
    concurrency: [1, 4, 16],
    coldStart: [{ runtime: 'node', backend: 'wasm' }, { runtime: 'node', backend: 'node' }, { runtime: 'deno', backend: 'wasm' }, { runtime: 'bun', backend: 'wasm' }] as Profile['coldStart'],
    workerdMaxMiB: 100,
  };
  const pairs: ['wasm' | 'node', Precision][] = [['wasm', 'fp32'], ['wasm', 'int8'], ['node', 'fp32']];
  if (kind === 'smoke') {
    return {
      ...common,
      name: 'smoke (structure only: 1–2 iterations, figures meaningless)',
      photos: 2,
      classify: [{ backend: 'wasm', dtype: 'int8', labels: 10, iterations: 1 }, { backend: 'node', dtype: 'fp32', labels: 10, iterations: 1 }],
      visionIterations: 2,
      visionBackends: [{ backend: 'wasm', threads: 1 }, { backend: 'node', threads: 1 }],
      visionVariants: ['fp32', 'int8'],
      preprocessIterations: 2,
      crosscheckTexts: 4,
      throughput: [{ backend: 'node', maxBatch: 16 }],
      concurrency: [1, 4],
      requests: 4,
      coldStart: [{ runtime: 'node', backend: 'wasm' }, { runtime: 'deno', backend: 'wasm' }, { runtime: 'bun', backend: 'wasm' }],
      warmIterations: 1,
      workerdWarmup: 1,
    };
  }
  if (kind === 'full') {
    return { ...common, name: 'full (ViT-B/32-size model, small iteration counts)', photos: 8, classify: e2e(8, 3, pairs), visionIterations: 8, preprocessIterations: 30, crosscheckTexts: 20, requests: 32, warmIterations: 8, workerdWarmup: 8 };
  }
  return { ...common, name: 'quick (bundled model)', photos: 20, classify: e2e(30, 20, pairs), visionIterations: 30, preprocessIterations: 60, crosscheckTexts: 50, requests: 48, warmIterations: 20, workerdWarmup: 40 };
}

function latestPromptCache(dir: string, id: string): BenchResult['linked']['promptCache'] {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(`-prompt-cache-${id}.json`)).sort() : [];
  const f = files.at(-1);
  if (!f) return undefined;
  const j = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { classifyWithCache: { medianMs: number }; classifyEncodingLabels: Record<string, { medianMs: number }> };
  return {
    file: path.relative(ROOT, path.join(ROOT, 'bench/results', f)).split(path.sep).join('/'),
    classifyWithCacheMs: j.classifyWithCache.medianMs,
    encodedMs: Object.fromEntries(Object.entries(j.classifyEncodingLabels).map(([k, v]) => [k, v.medianMs])),
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      iterations: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      'no-readme': { type: 'boolean' },
      'readme-only': { type: 'boolean' },
      smoke: { type: 'boolean' },
    },
  });
  const resultsDir = path.resolve(values.out ?? path.join(ROOT, 'bench/results'));
  if (values['readme-only']) {
    updateReadme(BENCH_DOC, resultsDir);
    return;
  }
  const modelDir = path.resolve(values.model ?? DEFAULT_MODEL_DIR);
  const info = await readModelInfo(fsModelSource(modelDir));
  const big = (info.variants.fp32?.vision?.bytes ?? 0) > 50 * MiB;
  const profile = profileFor(values.smoke ? 'smoke' : big ? 'full' : 'quick');
  const it = values.iterations ? Number(values.iterations) : undefined;
  if (it !== undefined && !(Number.isInteger(it) && it > 0)) throw new Error(`--iterations must be a positive integer, got ${values.iterations}`);
  const only = new Set((values.only?.split(',') ?? CASES) as CaseName[]);
  for (const o of only) if (!CASES.includes(o)) throw new Error(`unknown case "${o}" (cases: ${CASES.join(', ')})`);
  const cacheDir = path.join(ROOT, '.cache/bench');
  // The smoke profile checks structure only: it skips the up-front optimising compile of WebAssembly (seconds of CPU per process).
  const v8Flags = values.smoke ? [] : NODE_BENCH_FLAGS;
  const runCase = <R>(name: string, args: object) => runCaseWith<R>(name, args, { v8Flags });
  const photos = benchPhotos(profile.photos);
  const variants = (profile.visionVariants ?? (Object.keys(info.variants) as Precision[])).filter((p) => info.variants[p]?.vision);
  const t0 = performance.now();
  const result: BenchResult = {
    benchmark: 'clip-edge-vs-peers',
    date: new Date().toISOString(),
    command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    profile: profile.name,
    model: {
      id: info.id,
      dir: path.relative(ROOT, modelDir) || modelDir,
      embedDim: info.embedDim,
      variants: Object.fromEntries(Object.entries(info.variants).map(([p, t]) => [p, { vision: t?.vision?.bytes && t.vision.bytes / MiB, text: t?.text?.bytes && t.text.bytes / MiB }])),
    },
    machine: machine(),
    versions: versions(),
    threads: [...new Set(profile.visionBackends.map((b) => b.threads))],
    v8Flags,
    photos: { source: photos.source, count: photos.files.length },
    template: TEMPLATE,
    classify: [],
    vision: [],
    throughput: [],
    coldStart: [],
    linked: {
      promptCache: latestPromptCache(path.join(ROOT, 'bench/results'), info.id),
      ...(existsSync(path.join(ROOT, `bench/results/quantize-${info.id}.md`)) ? { quantize: `bench/results/quantize-${info.id}.md` } : {}),
    },
    errors: [],
    wallSeconds: 0,
  };
  console.error(`bench: ${info.id}, profile ${profile.name}, ${photos.files.length} photos from ${photos.source}`);
  const attempt = async <R>(what: string, fn: () => Promise<R>): Promise<R | undefined> => {
    console.error(`- ${what}`);
    try {
      return await fn();
    } catch (e) {
      const msg = `${what}: ${e instanceof Error ? e.message : String(e)}`;
      console.error(`  FAILED ${msg}`);
      result.errors.push(msg);
      return undefined;
    }
  };

  if (only.has('classify')) {
    for (const c of profile.classify) {
      const iterations = it ?? c.iterations;
      const r = await attempt(`classify ${c.backend} ${c.dtype} ${c.labels} labels`, () =>
        runCase<ClassifyResult>('classify', { model: modelDir, backend: c.backend, threads: 1, dtype: c.dtype, labels: c.labels, iterations, photos: photos.files.slice(0, Math.max(2, Math.min(photos.files.length, iterations))), cacheDir }),
      );
      if (r) result.classify.push({ ...r, backend: c.backend, dtype: c.dtype, labels: c.labels, threads: 1 });
    }
  }
  if (only.has('vision')) {
    for (const b of profile.visionBackends) {
      for (const variant of variants) {
        const r = await attempt(`vision ${variant} ${b.backend} ${b.threads} thread(s)`, () =>
          runCase<Omit<VisionEntry, 'backend' | 'threads' | 'variant'>>('vision', { model: modelDir, backend: b.backend, threads: b.threads, variant, iterations: it ?? profile.visionIterations, warmup: 2 }),
        );
        if (r) result.vision.push({ backend: b.backend, threads: b.threads, variant, ...r });
      }
    }
  }
  if (only.has('preprocess')) {
    result.preprocess = await attempt('preprocessing', () => runCase('preprocess', { model: modelDir, photos: photos.files, iterations: it ?? profile.preprocessIterations, cacheDir }));
  }
  if (only.has('crosscheck')) {
    result.crosscheck = await attempt('embedding cross-check', () => runCase('crosscheck', { model: modelDir, photos: photos.files, texts: profile.crosscheckTexts, cacheDir }));
  }
  if (only.has('throughput')) {
    for (const t of profile.throughput) {
      const r = await attempt(`throughput ${t.backend} maxBatch ${t.maxBatch}`, () =>
        runCase<BenchResult['throughput'][number]>('throughput', { model: modelDir, backend: t.backend, threads: 1, maxBatch: t.maxBatch, concurrency: profile.concurrency, requests: it ?? profile.requests, photos: photos.files, v8Flags }),
      );
      if (r) result.throughput.push({ ...r, maxBatch: t.maxBatch });
    }
  }
  if (only.has('cold-start')) {
    for (const c of profile.coldStart) {
      const r = await attempt(`cold start ${c.runtime} (${c.backend})`, () => runCase<BenchResult['coldStart'][number]>('cold-start', { model: modelDir, runtime: c.runtime, backend: c.backend, photos: photos.files, iterations: it ?? profile.warmIterations }));
      if (r) result.coldStart.push(r);
    }
  }
  if (only.has('workerd')) {
    const r = await attempt('workerd', () =>
      runCase<BenchResult['coldStart'][number] & { vision: Record<string, { forward: VisionEntry['forward']; ortWasmMiB: number } | { skipped: string }> }>('workerd', {
        model: modelDir, variants, iterations: it ?? profile.visionIterations, photos: photos.files, cacheDir, maxModelMiB: profile.workerdMaxMiB, warmupRuns: profile.workerdWarmup,
      }),
    );
    if (r) {
      const { vision, ...cold } = r;
      result.coldStart.push(cold);
      for (const [variant, v] of Object.entries(vision)) {
        result.vision.push('skipped' in v ? { backend: 'workerd', threads: 1, variant, skipped: v.skipped } : { backend: 'workerd', threads: 1, variant, forward: v.forward, wasmHeapMiB: v.ortWasmMiB });
      }
    }
  }
  result.wallSeconds = (performance.now() - t0) / 1000;

  mkdirSync(resultsDir, { recursive: true });
  const base = `${result.date.slice(0, 10)}-${String(result.machine.host).replace(/[^A-Za-z0-9._-]/g, '_')}-bench-${info.id.replace(/[^A-Za-z0-9._-]/g, '_')}`;
  const svgs = chartSvgs(result);
  const chartFiles: Record<string, string> = {};
  for (const [k, svg] of Object.entries(svgs)) {
    chartFiles[k] = `${base}-${k}.svg`;
    writeFileSync(path.join(resultsDir, chartFiles[k]), svg);
  }
  writeFileSync(path.join(resultsDir, `${base}.json`), `${JSON.stringify(result, null, 1)}\n`);
  const md = reportMarkdown(result, chartFiles);
  writeFileSync(path.join(resultsDir, `${base}.md`), md);
  console.log(md);
  console.error(`wrote ${path.relative(ROOT, path.join(resultsDir, base))}.{json,md} and ${Object.keys(svgs).length} charts in ${result.wallSeconds.toFixed(0)} s`);
  if (!values['no-readme']) updateReadme(BENCH_DOC, resultsDir);
  if (result.errors.length) {
    console.error(`${result.errors.length} case(s) failed:\n${result.errors.join('\n')}`);
    process.exitCode = 1;
  }
}

await main();
