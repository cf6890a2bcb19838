// npm run fuzz [-- --images 12000 --models 3000 --seed 1 --workers 2 --timeout-ms 10000] [--self-test]
//
// The long fuzz run: mutated JPEG/PNG/WebP files through decode + CLIP preprocessing, and mutated
// ONNX towers through the quantizer's reader and passes (the same targets and mutators as the short
// run in test/fuzz). Inputs run in worker threads, one at a time each, under a watchdog: an input
// that does not finish within --timeout-ms is a hang (the worker is terminated, which stops even a
// wasm loop, and replaced); a worker that dies (e.g. over its heap limit) is a crash; process RSS
// above the baseline by more than --rss-budget-mb is an unbounded allocation. Findings are written
// to .cache/fuzz/findings/ (bytes + the case that made them); fixed ones belong in test/fixtures/fuzz.
// Writes bench/results/reliability-fuzz.{json,md}; exits 1 when anything was found. `--self-test` first
// sends a job that spins forever and fails unless the watchdog reports it as a hang (then the
// report goes to .cache/fuzz/ instead).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { applyMutations, imageCaseArb } from '../test/fuzz/image-mutations.ts';
import { FUZZ_MAX_PIXELS, imageSeeds } from '../test/fuzz/image-target.ts';
import { MODEL_SEEDS, modelBytesOf, modelCaseArb } from '../test/fuzz/model-target.ts';
import type { FuzzJob, FuzzReply } from './fuzz-worker.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values: args } = parseArgs({
  options: {
    images: { type: 'string' },
    models: { type: 'string' },
    seed: { type: 'string' },
    workers: { type: 'string' },
    'timeout-ms': { type: 'string' },
    'heap-mb': { type: 'string' },
    'rss-budget-mb': { type: 'string' },
    'self-test': { type: 'boolean' },
  },
});
const arg = (name: Exclude<keyof typeof args, 'self-test'>, fallback: number): number => {
  const v = args[name] !== undefined ? Number(args[name]) : fallback;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number ≥ 0`);
  return v;
};
const IMAGES = arg('images', 12_000);
const MODELS = arg('models', 3_000);
const SEED = arg('seed', 1);
const WORKERS = Math.max(1, arg('workers', 2));
const TIMEOUT_MS = arg('timeout-ms', 10_000);
const HEAP_MB = arg('heap-mb', 1024);
const RSS_BUDGET_MB = arg('rss-budget-mb', 1024);
const FINDINGS = path.join(ROOT, '.cache/fuzz/findings');
const SELF_TEST = args['self-test'] ?? false;

interface Case {
  job: FuzzJob;
  describe: () => unknown;
}

function* cases(): Generator<Case> {
  const seeds = imageSeeds();
  if (SELF_TEST) {
    // The watchdog's own check: a job that spins forever must be reported as a hang, and the
    // inputs after it must still run (in a fresh worker).
    yield { job: { id: -1, kind: 'spin', bytes: new Uint8Array(0) }, describe: () => 'self-test: a busy loop' };
  }
  const imageCases = fc.sample(imageCaseArb(seeds.length), { numRuns: IMAGES, seed: SEED });
  for (const [i, c] of imageCases.entries()) {
    yield { job: { id: i, kind: 'image', bytes: applyMutations(seeds[c.seed]!.bytes, c.mutations) }, describe: () => ({ seed: seeds[c.seed]!.name, mutations: c.mutations }) };
  }
  const modelCases = fc.sample(modelCaseArb, { numRuns: MODELS, seed: SEED });
  for (const [i, c] of modelCases.entries()) {
    yield { job: { id: IMAGES + i, kind: 'model', bytes: modelBytesOf(c), tower: MODEL_SEEDS[c.seed]!.tower }, describe: () => c };
  }
}

interface KindStats {
  inputs: number;
  outcomes: Record<string, number>;
  ms: number[];
  bytes: number;
}
const stats: Record<'image' | 'model', KindStats> = {
  image: { inputs: 0, outcomes: {}, ms: [], bytes: 0 },
  model: { inputs: 0, outcomes: {}, ms: [], bytes: 0 },
};
const findings: { id: number; kind: string; what: string; file: string }[] = [];
let selfTestPassed = false;
const rssBase = process.memoryUsage().rss;
let rssPeak = rssBase;
const rssCurve: { done: number; rssMb: number }[] = [];

function recordFinding(c: Case, what: string): void {
  mkdirSync(FINDINGS, { recursive: true });
  const base = path.join(FINDINGS, `${c.job.kind}-${SEED}-${c.job.id}`);
  writeFileSync(`${base}.bin`, c.job.bytes);
  writeFileSync(`${base}.json`, JSON.stringify({ what, tower: c.job.tower, case: c.describe() }, null, 1));
  findings.push({ id: c.job.id, kind: c.job.kind, what, file: path.relative(ROOT, `${base}.bin`) });
  console.error(`  FINDING ${c.job.kind} #${c.job.id}: ${what}`);
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};

async function run(): Promise<void> {
  const queue = cases();
  let done = 0;
  const total = IMAGES + MODELS;
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    let worker: Worker | undefined;
    let answered = 0; // a worker that never answers anything is a broken harness, not a finding
    const spawn = () =>
      // Node 20 does not apply the main thread's tsx loader to a worker's entry: register it there first.
      new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(new URL('./fuzz-worker.ts', import.meta.url).href)}); })`, {
        eval: true,
        resourceLimits: { maxOldGenerationSizeMb: HEAP_MB },
      });
    for (let next = queue.next(); !next.done; next = queue.next()) {
      const c = next.value;
      worker ??= spawn();
      const w = worker;
      const reply = await new Promise<FuzzReply | { dead: string }>((resolve) => {
        const timer = setTimeout(() => resolve({ dead: `hang: no answer within ${TIMEOUT_MS} ms` }), TIMEOUT_MS);
        const settle = (v: FuzzReply | { dead: string }) => {
          clearTimeout(timer);
          w.off('message', onMessage);
          w.off('error', onError);
          w.off('exit', onExit);
          resolve(v);
        };
        const onMessage = (m: FuzzReply) => m.id === c.job.id && settle(m);
        const onError = (e: Error) => settle({ dead: `worker crashed: ${e.message}` });
        const onExit = (code: number) => settle({ dead: `worker exited with code ${code}` });
        w.on('message', onMessage);
        w.on('error', onError);
        w.on('exit', onExit);
        w.postMessage(c.job);
      });
      if (c.job.kind === 'spin') {
        if (!('dead' in reply) || !reply.dead.startsWith('hang')) throw new Error(`self-test: the spinning job was not caught as a hang (${JSON.stringify(reply)})`);
        await w.terminate();
        worker = undefined;
        console.error(`  self-test: the watchdog caught a busy loop (${reply.dead}); continuing in a fresh worker`);
        selfTestPassed = true;
        continue;
      }
      const s = stats[c.job.kind];
      s.inputs++;
      s.bytes += c.job.bytes.byteLength;
      if ('dead' in reply && answered === 0 && !reply.dead.startsWith('hang')) throw new Error(`the fuzz worker could not start: ${reply.dead}`);
      if (!('dead' in reply)) answered++;
      if ('dead' in reply) {
        await w.terminate();
        worker = undefined;
        recordFinding(c, reply.dead);
      } else if ('finding' in reply) {
        s.ms.push(reply.ms);
        recordFinding(c, reply.finding);
      } else {
        s.ms.push(reply.ms);
        s.outcomes[reply.outcome] = (s.outcomes[reply.outcome] ?? 0) + 1;
      }
      const rss = process.memoryUsage().rss;
      rssPeak = Math.max(rssPeak, rss);
      if (rss - rssBase > RSS_BUDGET_MB * 2 ** 20) recordFinding(c, `process RSS ${(rss / 2 ** 20).toFixed(0)} MiB, over the baseline by more than ${RSS_BUDGET_MB} MiB`);
      if (++done % 500 === 0 || done === total) {
        rssCurve.push({ done, rssMb: Math.round(rss / 2 ** 20) });
        console.error(`  ${done}/${total} inputs, ${findings.length} findings, RSS ${(rss / 2 ** 20).toFixed(0)} MiB, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      }
    }
    await worker?.terminate();
  };
  await Promise.all(Array.from({ length: WORKERS }, lane));
  const seconds = (performance.now() - t0) / 1000;

  const kinds = Object.fromEntries(
    Object.entries(stats).map(([k, s]) => [
      k,
      { inputs: s.inputs, outcomes: s.outcomes, msP50: +quantile(s.ms, 0.5).toFixed(1), msP99: +quantile(s.ms, 0.99).toFixed(1), msMax: +Math.max(0, ...s.ms).toFixed(1), meanBytes: Math.round(s.bytes / Math.max(1, s.inputs)) },
    ]),
  );
  const result = {
    command: `npm run fuzz -- --images ${IMAGES} --models ${MODELS} --seed ${SEED} --workers ${WORKERS} --timeout-ms ${TIMEOUT_MS}`,
    date: new Date().toISOString(),
    machine: `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}`,
    seconds: +seconds.toFixed(1),
    limits: { perInputTimeoutMs: TIMEOUT_MS, workerHeapMb: HEAP_MB, rssBudgetMb: RSS_BUDGET_MB, maxPixels: FUZZ_MAX_PIXELS },
    ...(SELF_TEST ? { watchdogSelfTest: selfTestPassed ? 'passed' : 'not run' } : {}),
    seeds: { images: imageSeeds().map((s) => s.name), models: MODEL_SEEDS.map((m) => m.tower) },
    kinds,
    rss: { baselineMb: Math.round(rssBase / 2 ** 20), peakMb: Math.round(rssPeak / 2 ** 20), curve: rssCurve },
    findings,
  };
  // A self-test run checks the harness; it does not replace the report.
  const outDir = SELF_TEST ? path.join(ROOT, '.cache/fuzz') : path.join(ROOT, 'bench/results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'reliability-fuzz.json'), `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(path.join(outDir, 'reliability-fuzz.md'), markdown(result));
  console.error(`wrote ${path.relative(ROOT, outDir)}/reliability-fuzz.{json,md}: ${total} inputs in ${seconds.toFixed(0)} s, ${findings.length} findings`);
  process.exitCode = findings.length ? 1 : 0;
}

function markdown(r: {
  command: string;
  date: string;
  machine: string;
  seconds: number;
  limits: Record<string, number>;
  kinds: Record<string, { inputs: number; outcomes: Record<string, number>; msP50: number; msP99: number; msMax: number; meanBytes: number }>;
  rss: { baselineMb: number; peakMb: number };
  findings: { kind: string; what: string; file: string }[];
}): string {
  const rows = Object.entries(r.kinds).map(
    ([k, s]) =>
      `| ${k === 'image' ? 'JPEG/PNG/WebP → decode + preprocess' : 'ONNX tower → reader + fp16/int8/q4 passes'} | ${s.inputs} | ${Object.entries(s.outcomes)
        .sort((a, b) => b[1] - a[1])
        .map(([o, n]) => `${o} ${n}`)
        .join(', ')} | ${s.msP50} / ${s.msP99} / ${s.msMax} | ${s.meanBytes} |`,
  );
  return [
    '# Fuzzing (reliability report, part 1)',
    '',
    `\`${r.command}\` — ${r.date.slice(0, 10)}, ${r.machine}, ${r.seconds} s.`,
    '',
    `Limits: ${r.limits.perInputTimeoutMs} ms per input (watchdog terminates the worker), worker heap ${r.limits.workerHeapMb} MB, ` +
      `process RSS budget +${r.limits.rssBudgetMb} MiB, images capped at ${r.limits.maxPixels!.toLocaleString('en-US')} pixels (checked from the header before decoding).`,
    '',
    '| target | inputs | outcomes | ms per input p50 / p99 / max | mean input bytes |',
    '| --- | ---: | --- | ---: | ---: |',
    ...rows,
    '',
    `Process RSS (2 workers): baseline ${r.rss.baselineMb} MiB, peak ${r.rss.peakMb} MiB.`,
    '',
    r.findings.length ? `**${r.findings.length} findings** (inputs in .cache/fuzz/findings/):\n\n${r.findings.slice(0, 30).map((f) => `- ${f.kind}: ${f.what} (${f.file})`).join('\n')}` : 'Findings: none (no crash, hang, wrong error code, leaking message or unbounded allocation).',
    '',
  ].join('\n');
}

await run();
