// npm run bench:event-loop [-- --model models/vit-b-32-random] [--backend wasm] [--seconds 20] [--clients 2]
//
// What holds a server's event loop while it classifies a stream and gets issue 23's hostile images
// (the phase where bench:inference-thread measured /healthz p99 231 ms): `node bin/clip-edge.js
// serve` (inference and decode threads on) started with bench/lib/loop-monitor.mjs preloaded and
// a CPU profile of its main thread. Reported: the main thread's event-loop delay histogram (perf_hooks, 1 ms
// resolution) over the phase, its GC pauses, /healthz round trips from a worker thread, and from the
// CPU profile the main thread's longest busy stretches (consecutive samples outside "(idle)") with
// the functions they spent their time in. Figures depend on the machine's load: compare runs made
// one after the other, and read the histogram and the profile rather than absolute times.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { healthzWhile } from './lib/faults.ts';
import { hostileProbes } from './lib/hostile-images.ts';
import { benchPhotos, readPhotos } from './lib/photos.ts';
import { rawExchange, requestHead } from './lib/socket.ts';
import { startNode } from './lib/targets.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values: args } = parseArgs({ options: { model: { type: 'string', default: 'models/tiny-clip' }, backend: { type: 'string', default: 'wasm' }, seconds: { type: 'string', default: '20' }, clients: { type: 'string', default: '2' } } });
const LABELS = 'a photo of a cat,a photo of a dog,a diagram,a red square,a landscape';
const photos = benchPhotos(8);
const bodies = readPhotos(photos.files);

const classify = (url: string, i: number) =>
  new Promise<number>((resolve, reject) => {
    const body = bodies[i % bodies.length]!;
    const type = photos.files[i % bodies.length]!.endsWith('.png') ? 'image/png' : 'image/jpeg';
    const req = http.request(`${url}/v1/classify?labels=${encodeURIComponent(LABELS)}&topK=1`, { method: 'POST', agent: false, headers: { 'content-type': type, 'content-length': body.byteLength } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

/** The main thread's longest busy stretches in the last `seconds` of a CPU profile, and where their time went. */
function busyStretches(p: Profile, seconds: number, top = 8): string[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (id: number) => {
    const f = byId.get(id)!.callFrame;
    return `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')}:${f.lineNumber + 1}`;
  };
  /** The deepest frame of ours or a library's, skipping Node internals, for a readable "where". */
  const where = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      if (f.url && !f.url.startsWith('node:')) return label(at);
    }
    return label(id);
  };
  const times: number[] = [];
  let t = p.startTime;
  for (const d of p.timeDeltas) times.push((t += d));
  const from = times.at(-1)! - seconds * 1e6;
  const idle = (id: number) => ['(idle)', '(program)'].includes(byId.get(id)!.callFrame.functionName);
  const stretches: { ms: number; self: Map<string, number> }[] = [];
  let cur: { start: number; self: Map<string, number> } | undefined;
  for (let i = 0; i < p.samples.length; i++) {
    if (times[i]! < from) continue;
    const id = p.samples[i]!;
    const dt = (times[i + 1] ?? times[i]!) - times[i]!;
    if (idle(id)) {
      if (cur) stretches.push({ ms: (times[i]! - cur.start) / 1000, self: cur.self });
      cur = undefined;
      continue;
    }
    cur ??= { start: times[i]!, self: new Map() };
    const k = where(id);
    cur.self.set(k, (cur.self.get(k) ?? 0) + dt / 1000);
  }
  stretches.sort((a, b) => b.ms - a.ms);
  return stretches.slice(0, top).map((s) => `${s.ms.toFixed(1)} ms: ${[...s.self].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, ms]) => `${k} ${ms.toFixed(1)}`).join('; ')}`);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'clip-edge-loop-'));
const monitorOut = path.join(dir, 'loop.json');
const target = await startNode({
  CLIP_EDGE_MODEL: args.model!,
  CLIP_EDGE_BACKEND: args.backend!,
  CLIP_EDGE_REQUEST_TIMEOUT_MS: '60000',
  LOOP_MONITOR_OUT: monitorOut,
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${path.join(ROOT, 'bench/lib/loop-monitor.mjs')}`,
});
const readMonitor = async () => {
  rmSync(monitorOut, { force: true });
  process.kill(target.pid, 'SIGUSR2');
  for (let i = 0; i < 100; i++) {
    try {
      return JSON.parse(readFileSync(monitorOut, 'utf8')) as unknown;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('the loop monitor did not answer');
};
try {
  for (let i = 0; i < 4; i++) await classify(target.url, i); // warm (sessions, class matrix)
  const probes = await hostileProbes();
  await readMonitor(); // resets the histogram: the phase starts here
  const t0 = performance.now();
  const deadline = t0 + Number(args.seconds) * 1000;
  const hostile = (async () => {
    while (performance.now() < deadline) {
      for (const p of probes) {
        await Promise.all(Array.from({ length: p.copies }, () => rawExchange(target.url, { pieces: [requestHead('POST', `/v1/classify?labels=${encodeURIComponent(LABELS)}&topK=1`, [`Content-Type: ${p.type}`, `Content-Length: ${p.body.length}`]), p.body], timeoutMs: 600_000 })));
      }
    }
  })();
  let n = 0;
  let done = false;
  void hostile.finally(() => (done = true));
  const streamed = Promise.all(Array.from({ length: Number(args.clients) }, async () => {
    while (!done) await classify(target.url, n++);
  }));
  const [healthz] = await Promise.all([healthzWhile(target.url, hostile), streamed]);
  const seconds = (performance.now() - t0) / 1000;
  const loop = await readMonitor();
  console.log(JSON.stringify({ model: args.model, backend: args.backend, seconds: +seconds.toFixed(1), classified: n, load1: os.loadavg()[0]!.toFixed(1), healthz: { p50Ms: healthz.p50Ms, p99Ms: healthz.p99Ms, worstMs: healthz.worstMs, polls: healthz.polls }, loop }, null, 1));
  console.log(`main thread's longest busy stretches in the phase (CPU profile, 0.5 ms samples):`);
  for (const line of busyStretches(JSON.parse(readFileSync(`${monitorOut}.cpuprofile`, 'utf8')) as Profile, seconds)) console.log(`  ${line}`);
} finally {
  await target.stop();
  rmSync(dir, { recursive: true, force: true });
}
