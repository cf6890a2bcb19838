// npm run bench:inference-thread [-- --model models/vit-b-32-random] [--backends wasm,node] [--seconds 20] [--rounds 4] [--clients 2] [--out bench/results/inference-thread.md]
//
// Issue 23, off the event loop: `node bin/clip-edge.js serve` with inference on the main thread
// (CLIP_EDGE_INFERENCE_THREAD=0, the baseline) and in its inference thread (the default), both up at
// once per backend, traffic to one at a time in alternating rounds (A B B A …). Each server gets
// (1) a stream of real classify requests (`--clients` at once, photos, inline labels) for `--seconds`
// in all while /healthz is polled every 25 ms from a worker thread, then (2) the same stream while
// issue 23's five hostile images are sent one after another (bench/lib/hostile-images.ts). Reported: /healthz p50 / p99 / worst in each phase,
// classify latency and throughput, server RSS after warm-up and at its peak, and each figure of the
// inference thread as a ratio to the baseline's.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { healthzWhile } from './lib/faults.ts';
import { hostileProbes, type Probe } from './lib/hostile-images.ts';
import { benchPhotos, readPhotos } from './lib/photos.ts';
import { rawExchange, requestHead } from './lib/socket.ts';
import { rssOf, startNode, type Target } from './lib/targets.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    backends: { type: 'string', default: 'wasm,node' },
    seconds: { type: 'string', default: '20' },
    clients: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '4' },
    out: { type: 'string' },
  },
});
const MODEL = args.model ?? (existsSync(path.join(ROOT, 'models/vit-b-32-random/manifest.json')) ? 'models/vit-b-32-random' : 'models/tiny-clip');
const OUT = path.resolve(ROOT, args.out ?? 'bench/results/inference-thread.md');
const SECONDS = Number(args.seconds);
const CLIENTS = Number(args.clients);
const ROUNDS = Number(args.rounds);
const LABELS = 'a photo of a cat,a photo of a dog,a diagram,a red square,a landscape';
const MiB = 2 ** 20;

const photos = benchPhotos(8);
const bodies = readPhotos(photos.files);
const typeOf = (f: string) => (f.endsWith('.png') ? 'image/png' : 'image/jpeg');

/** One classify over a fresh connection: its status and wall time. */
function classify(url: string, i: number): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const body = bodies[i % bodies.length]!;
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/classify?labels=${encodeURIComponent(LABELS)}&topK=1`, { method: 'POST', agent: false, headers: { 'content-type': typeOf(photos.files[i % bodies.length]!), 'content-length': body.byteLength } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `CLIENTS` clients classifying back to back until `until` settles. */
async function stream(url: string, until: Promise<unknown>): Promise<{ ms: number[]; statuses: Record<number, number> }> {
  let done = false;
  void until.finally(() => (done = true));
  const ms: number[] = [];
  const statuses: Record<number, number> = {};
  let n = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (!done) {
        const r = await classify(url, n++);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status === 200) ms.push(r.ms);
      }
    }),
  );
  return { ms, statuses };
}

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? +s[Math.max(0, Math.ceil(s.length * q) - 1)]!.toFixed(1) : NaN;
};

/** What one server got in one kind of phase, over all its rounds. */
interface Tally {
  healthzMs: number[];
  classifyMs: number[];
  seconds: number;
  statuses: Record<number, number>;
  probes: string[];
}
interface Phase {
  healthz: { p50Ms: number; p99Ms: number; worstMs: number; polls: number };
  classify: { n: number; p50Ms: number; perSecond: number; statuses: Record<number, number> };
  probes?: string;
}
interface Result {
  mode: 'in-thread' | 'inference thread';
  describe: string;
  rssAfterWarmupMiB: number;
  rssPeakMiB: number;
  stream: Phase;
  hostile: Phase;
}

async function sendProbes(url: string, list: Probe[]): Promise<string> {
  const answers: string[] = [];
  for (const p of list) {
    const rs = await Promise.all(
      Array.from({ length: p.copies }, () => rawExchange(url, { pieces: [requestHead('POST', `/v1/classify?labels=${encodeURIComponent(LABELS)}&topK=1`, [`Content-Type: ${p.type}`, `Content-Length: ${p.body.length}`]), p.body], timeoutMs: 600_000 })),
    );
    const codes = new Set(rs.map((r) => `${r.status} ${/"code":"([A-Z_]+)"/.exec(r.body)?.[1] ?? ''}`.trim()));
    answers.push(`${p.name}: ${[...codes].join('/')}`);
  }
  return answers.join(', ');
}

const newTally = (): Tally => ({ healthzMs: [], classifyMs: [], seconds: 0, statuses: {}, probes: [] });

/** One phase on one server: the classify stream while `work` runs, /healthz polled meanwhile; added to `t`. */
async function phase(target: Target, t: Tally, work: () => Promise<string | undefined>): Promise<void> {
  const t0 = performance.now();
  const running = work();
  const [healthz, s, probes] = await Promise.all([healthzWhile(target.url, running), stream(target.url, running), running]);
  t.seconds += (performance.now() - t0) / 1000;
  t.healthzMs.push(...healthz.samples);
  t.classifyMs.push(...s.ms);
  for (const [k, n] of Object.entries(s.statuses)) t.statuses[Number(k)] = (t.statuses[Number(k)] ?? 0) + n;
  if (probes) t.probes.push(probes);
}

const summary = (t: Tally): Phase => ({
  healthz: { p50Ms: pct(t.healthzMs, 0.5), p99Ms: pct(t.healthzMs, 0.99), worstMs: pct(t.healthzMs, 1), polls: t.healthzMs.length },
  classify: { n: t.classifyMs.length, p50Ms: pct(t.classifyMs, 0.5), perSecond: +(t.classifyMs.length / t.seconds).toFixed(2), statuses: t.statuses },
  ...(t.probes.length ? { probes: [...new Set(t.probes)].join(' | ') } : {}),
});

/**
 * Both servers of a backend run at once, but only one gets traffic at a time: rounds alternate
 * A B B A …, so that the machine's load drifting during the run weighs on both alike.
 */
async function measure(backend: string, probes: Probe[]): Promise<Result[]> {
  const modes = ['in-thread', 'inference thread'] as const;
  const targets: Target[] = [];
  try {
    for (const mode of modes) {
      targets.push(await startNode({ CLIP_EDGE_MODEL: MODEL, CLIP_EDGE_BACKEND: backend, CLIP_EDGE_INFERENCE_THREAD: mode === 'in-thread' ? '0' : '1', CLIP_EDGE_REQUEST_TIMEOUT_MS: '60000' }));
    }
    const rssAfterWarmup: number[] = [];
    for (const t of targets) {
      for (let i = 0; i < 4; i++) await classify(t.url, i); // sessions, the labels' class matrix
      rssAfterWarmup.push(rssOf(t.pid));
    }
    const peaks = [...rssAfterWarmup];
    const sampler = setInterval(() => targets.forEach((t, i) => (peaks[i] = Math.max(peaks[i]!, rssOf(t.pid)))), 50);
    const streamed = [newTally(), newTally()];
    const hostile = [newTally(), newTally()];
    for (let round = 0; round < ROUNDS; round++) {
      for (const i of round % 2 ? [1, 0] : [0, 1]) {
        await phase(targets[i]!, streamed[i]!, () => new Promise((r) => setTimeout(() => r(undefined), (SECONDS / ROUNDS) * 1000)));
      }
    }
    for (const i of [0, 1]) await phase(targets[i]!, hostile[i]!, () => sendProbes(targets[i]!.url, probes));
    clearInterval(sampler);
    return modes.map((mode, i) => {
      const r: Result = { mode, describe: targets[i]!.describe, rssAfterWarmupMiB: Math.round(rssAfterWarmup[i]! / MiB), rssPeakMiB: Math.round(peaks[i]! / MiB), stream: summary(streamed[i]!), hostile: summary(hostile[i]!) };
      process.stderr.write(`  ${backend} ${mode}: /healthz p99 ${r.stream.healthz.p99Ms} ms (stream), ${r.hostile.healthz.p99Ms} ms (hostile); classify p50 ${r.stream.classify.p50Ms} ms, ${r.stream.classify.perSecond}/s; RSS ${r.rssAfterWarmupMiB} → ${r.rssPeakMiB} MiB\n`);
      return r;
    });
  } finally {
    await Promise.all(targets.map((t) => t.stop()));
  }
}

const probes = await hostileProbes();
const runs: { backend: string; results: Result[] }[] = [];
for (const backend of args.backends!.split(',')) {
  process.stderr.write(`${backend} (${MODEL}, ${CLIENTS} clients, ${SECONDS} s in ${ROUNDS} rounds each)\n`);
  runs.push({ backend, results: await measure(backend, probes) });
}

const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '–');
const row = (r: Result) =>
  `| ${r.mode} | ${r.stream.healthz.p50Ms} / ${r.stream.healthz.p99Ms} / ${r.stream.healthz.worstMs} (${r.stream.healthz.polls}) | ${r.hostile.healthz.p50Ms} / ${r.hostile.healthz.p99Ms} / ${r.hostile.healthz.worstMs} (${r.hostile.healthz.polls}) | ${r.stream.classify.p50Ms} | ${r.stream.classify.perSecond} | ${r.rssAfterWarmupMiB} → ${r.rssPeakMiB} |`;
const md = [
  '# Inference off the event loop (issue 23)',
  '',
  `\`npm run bench:inference-thread -- --model ${MODEL} --backends ${args.backends} --seconds ${SECONDS} --rounds ${ROUNDS} --clients ${CLIENTS}\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
    `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, load average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')}, Node ${process.version}.`,
  '',
  `Both servers (\`node bin/clip-edge.js serve\`) up at once, traffic to one at a time: ${CLIENTS} clients classifying photos back to back (${photos.source}; inline labels, so the text tower ran once per label set) ` +
    `for ${SECONDS} s in ${ROUNDS} alternating rounds (A B B A …, so that the machine's load drifting weighs on both alike), then the same stream while issue 23's five hostile images are sent one after another. /healthz is polled every 25 ms from a worker thread of the bench. ` +
    '"in-thread": `CLIP_EDGE_INFERENCE_THREAD=0` (inference on the event loop, as before); "inference thread": the default.',
  '',
  ...runs.flatMap(({ backend, results: [base, threaded] }) => [
    `## backend ${backend}: ${threaded!.describe.replace(/^node bin\/clip-edge.js serve /, '')}`,
    '',
    '| inference | /healthz p50 / p99 / worst ms (polls), classify stream | /healthz p50 / p99 / worst ms (polls), stream + hostile images | classify p50 ms | classified / s | RSS after warm-up → peak MiB |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    row(base!),
    row(threaded!),
    `| ratio (thread / in-thread) | p99 ${ratio(threaded!.stream.healthz.p99Ms, base!.stream.healthz.p99Ms)} | p99 ${ratio(threaded!.hostile.healthz.p99Ms, base!.hostile.healthz.p99Ms)} | ${ratio(threaded!.stream.classify.p50Ms, base!.stream.classify.p50Ms)} | ${ratio(threaded!.stream.classify.perSecond, base!.stream.classify.perSecond)} | ${ratio(threaded!.rssPeakMiB, base!.rssPeakMiB)} |`,
    '',
    `Hostile images' answers: in-thread ${base!.hostile.probes}; inference thread ${threaded!.hostile.probes}. Classify statuses (stream): in-thread ${JSON.stringify(base!.stream.classify.statuses)}, inference thread ${JSON.stringify(threaded!.stream.classify.statuses)}.`,
    '',
  ]),
];
mkdirSync(path.dirname(OUT), { recursive: true });
writeFileSync(OUT, md.join('\n'));
writeFileSync(OUT.replace(/\.md$/, '.json'), JSON.stringify({ model: MODEL, clients: CLIENTS, seconds: SECONDS, rounds: ROUNDS, photos: photos.source, runs }, null, 2));
process.stderr.write(`wrote ${path.relative(ROOT, OUT)}\n`);
