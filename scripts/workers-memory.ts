// npm run workers:memory [-- --model models/vit-b-32-random --variants int8,q4 --text no --in-place yes|no --budget 48] —
// (`-- --text-worker [--model DIR --variants int8 --in-place yes|no]`: the text Worker instead, see measureTextWorker)
// (`-- --parts [--model DIR --variant int8]`: each part Worker of a vision tower split across Workers, see measureParts)
// measures, inside workerd (`wrangler dev --local`), the memory of each configuration of a model
// (vision variant × text tower × loaded in place from its ORT-format file or copied from the .onnx)
// after loading and at the peak of a request with 1 and 4 MP photos, 12 MP ones (baseline and
// progressive JPEG), a 24 MP baseline one, and four 12 MP baseline ones sent at once
// (`"concurrent": 4`), with the Worker's own settings (decode budget `auto`: what the model leaves);
// also the cold start (fresh isolate → model streamed from local R2 → first answer) and the warm
// round trip of the 1 MP photo, timed by the client. Merges the rows into
// bench/results/workers-memory.{md,json} (rows of other models/configurations are kept).
// A configuration whose model leaves no decode budget (the copying path of ViT-B/32) is measured with
// a fixed 48 MB budget (`--budget`): local workerd does not enforce 128 MB, the row says it does not fit.
// The upload step (scripts/workers-upload.ts) checks configurations against these rows.
// `--only 12mp [--repeat N]`: just the 12 MP rows (single baseline JPEG, PNG and WebP, then the three
// four-at-once bursts, the bursts N times in the same isolate), printed with where the peak's JS heap
// went (V8 objects vs array buffers at the peak sample); the tables are not written.
// A large model travels to workerd's local R2 once (persisted in .cache/workers-memory/state;
// re-runs skip objects already there): the ViT-B/32 int8 vision file (89 MB) takes ~1 min.
//
// How memory is read: ORT's wasm memory from the adapter's instantiate shim (ortWasmMemoryBytes: a
// high-water mark, as wasm memory never shrinks) and the image codecs' (clip.codecMemoryPeakBytes():
// the most their live instances, in use and kept idle, held since the previous request); the V8 heap (JS objects, and array buffers
// outside the heap, which do not include wasm memories) through the inspector protocol's
// Runtime.getHeapUsage, after a full GC (forced by a heap snapshot), and sampled every few ms while
// a request runs: peak (measured) = ORT + codec + the largest sample. Local workerd does not enforce 128 MB.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createServer } from 'node:net';
import { crc32, deflateSync } from 'node:zlib';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModelInfo } from '../src/core/model/info.ts';
import { fsModelSource } from '../src/runtime/fs/model-source.ts';
import { type MemoryRow, type MemoryTable, WORKERS_MEMORY_LIMIT, estimatePeak, memoryMarkdown } from './workers-budget.ts';
import { resolveTextVariant, uploadPlan } from './workers-plan.ts';
import { splitVariantOf, visionPartsOf } from '../src/core/vision-parts.ts';
import { WORKERS_VARIANT_ORDER } from '../src/runtime/workers/variants.ts';
import type { Precision } from '../src/core/precision.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values: args } = parseArgs({
  options: { model: { type: 'string' }, variants: { type: 'string' }, text: { type: 'string' }, 'in-place': { type: 'string' }, budget: { type: 'string' }, 'text-worker': { type: 'boolean' }, 'run-batch': { type: 'string' }, parts: { type: 'boolean' }, variant: { type: 'string' }, only: { type: 'string' }, repeat: { type: 'string' } },
});
const MODEL = path.resolve(ROOT, args.model ?? process.env.CLIP_EDGE_MODEL_DIR ?? 'models/tiny-clip');
const MODEL_ID = path.basename(MODEL);
const CACHE = path.join(ROOT, '.cache/workers-memory');
/** A port the OS just handed out and released: fixed ports collided with another workers:memory run on the same machine (its requests then reached the other run's Worker). */
const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
const PORT = Number(process.env.CLIP_EDGE_MEMORY_PORT) || (await freePort());
const INSPECTOR = Number(process.env.CLIP_EDGE_MEMORY_INSPECTOR_PORT) || (await freePort());
const MB = 1024 * 1024;
const LABEL_SET = process.env.CLIP_EDGE_LABEL_SET ?? 'cifar10';
if (args.only !== undefined && args.only !== '12mp') throw new Error(`--only takes 12mp, got ${args.only}`);
const ONLY_12MP = args.only === '12mp';
const REPEAT = Number(args.repeat ?? 1);
if (!(Number.isSafeInteger(REPEAT) && REPEAT >= 1)) throw new Error(`--repeat takes a positive integer, got ${args.repeat}`);

/** How a test photo is encoded: baseline or progressive JPEG (phones write baseline), lossy WebP, or PNG. */
type PhotoKind = 'baseline' | 'progressive' | 'webp' | 'png';

/**
 * A synthetic photo-like image (smooth gradients, shapes, sensor-like noise) so that its file size is
 * realistic. The PNG has no noise (a noisy 12 MP PNG is ~25 MB, over the Worker's 8 MB body pool).
 */
async function photo(width: number, height: number, kind: PhotoKind): Promise<Uint8Array> {
  const file = path.join(CACHE, `photo-${width}x${height}-${kind}.${kind === 'png' || kind === 'webp' ? kind : 'jpg'}`);
  if (existsSync(file)) return new Uint8Array(readFileSync(file));
  const require = createRequire(import.meta.url);
  const data = new Uint8ClampedArray(width * height * 4);
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const u = x / width, v = y / height;
      const disc = (u - 0.5) ** 2 + (v - 0.55) ** 2 < 0.04;
      const n = kind === 'png' ? 0 : (rnd() - 0.5) * 24;
      data[i] = (disc ? 200 : 90 + 120 * u) + n;
      data[i + 1] = (disc ? 60 : 140 - 60 * v) + n;
      data[i + 2] = (disc ? 40 : 160 + 60 * Math.sin(u * 9 + v * 5)) + n;
      data[i + 3] = 255;
    }
  }
  let out: Uint8Array;
  if (kind === 'png') {
    const raw = Buffer.alloc((1 + width * 3) * height);
    for (let y = 0, o = 0; y < height; y++) {
      raw[o++] = 0;
      for (let x = 0; x < width; x++, o += 3) raw.set(data.subarray((y * width + x) * 4, (y * width + x) * 4 + 3), o);
    }
    const chunk = (type: string, body: Uint8Array) => {
      const head = Buffer.alloc(8);
      head.writeUInt32BE(body.length, 0);
      head.write(type, 4, 'latin1');
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])) >>> 0, 0);
      return Buffer.concat([head, body, crc]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr.set([8, 2, 0, 0, 0], 8);
    out = Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
  } else if (kind === 'webp') {
    const { init, default: encode } = await import('@jsquash/webp/encode.js');
    await init(await WebAssembly.compile(readFileSync(require.resolve('@jsquash/webp/codec/enc/webp_enc.wasm'))));
    out = new Uint8Array(await encode({ data, width, height, colorSpace: 'srgb' } as ImageData, { quality: 80 }));
  } else {
    const { init, default: encode } = await import('@jsquash/jpeg/encode.js');
    await init(await WebAssembly.compile(readFileSync(require.resolve('@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm'))));
    out = new Uint8Array(await encode({ data, width, height, colorSpace: 'srgb' } as ImageData, { quality: 85, progressive: kind === 'progressive', baseline: kind === 'baseline' }));
  }
  writeFileSync(file, out);
  return out;
}

/** `wrangler dev --local` on the measuring Worker; resolves when it is ready. */
async function startDev(): Promise<{ proc: ChildProcess; stop: () => Promise<void> }> {
  const proc = spawn(
    process.execPath,
    [path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', 'scripts/workers-memory-worker.ts', '--local', '--ip', '127.0.0.1', '--port', String(PORT),
      '--inspector-port', String(INSPECTOR), '--persist-to', path.join(CACHE, 'state'), '--log-level', 'warn'],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const stop = () => new Promise<void>((r) => {
    if (proc.exitCode !== null) return r();
    proc.once('exit', () => r());
    proc.kill('SIGTERM');
  });
  for (let i = 0; i < 240; i++) {
    await new Promise((r) => setTimeout(r, 500));
    if (proc.exitCode !== null) throw new Error(`wrangler dev exited:\n${log}`);
    try {
      if ((await fetch(`http://127.0.0.1:${PORT}/ping`)).status === 404) return { proc, stop };
    } catch {
      /* not up yet */
    }
  }
  await stop();
  throw new Error(`wrangler dev did not start:\n${log}`);
}

/** A minimal Chrome DevTools Protocol client over the inspector port (Node ≥ 20.10 with --experimental-websocket, or Node 22). */
async function inspector(): Promise<{ send: (method: string, params?: object) => Promise<Record<string, number>>; close: () => void }> {
  const targets = (await (await fetch(`http://127.0.0.1:${INSPECTOR}/json`)).json()) as { webSocketDebuggerUrl: string; title?: string }[];
  const target = targets.find((t) => !/miniflare|proxy/i.test(t.title ?? '')) ?? targets[0];
  if (!target) throw new Error('no inspector target');
  // wrangler's inspector proxy wants an Origin on localhost (Node's WebSocket takes headers as an extension).
  const ws = new (WebSocket as unknown as new (url: string, init: object) => WebSocket)(target.webSocketDebuggerUrl, { headers: { Origin: 'http://localhost' } });
  await new Promise((res, rej) => {
    ws.onopen = res;
    ws.onerror = rej;
  });
  let id = 0;
  const pending = new Map<number, (v: Record<string, number>) => void>();
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data)) as { id?: number; result?: Record<string, number> };
    if (m.id !== undefined) pending.get(m.id)?.(m.result ?? {});
  };
  return {
    send: (method, params = {}) => new Promise((res, rej) => {
      const my = ++id;
      const timer = setTimeout(() => rej(new Error(`inspector: no answer to ${method}`)), 180_000); // a heap snapshot takes long on a busy machine
      pending.set(my, (v) => {
        clearTimeout(timer);
        res(v);
      });
      ws.send(JSON.stringify({ id: my, method, params }));
    }),
    close: () => ws.close(),
  };
}

type Answer = { ortWasm: number; codecWasm: number; decodeBudget: number; image: { decode: string } };

const call = async (route: string, body?: Uint8Array, quiet = false): Promise<Record<string, unknown>> => {
  if (!quiet) console.error(`  ${route.split('?')[0]} ${body ? `(${(body.byteLength / MB).toFixed(1)} MB)` : ''}`);
  const r = await fetch(`http://127.0.0.1:${PORT}${route}`, { method: body ? 'POST' : 'GET', ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {}), signal: AbortSignal.timeout(300_000) });
  const j = (await r.json()) as Record<string, unknown>;
  if (!r.ok) throw new Error(`${route}: ${String(j.error)}`);
  return j;
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  if (typeof WebSocket === 'undefined') throw new Error('run with node --experimental-websocket (npm run workers:memory does)');
  mkdirSync(CACHE, { recursive: true });
  const info = await readModelInfo(fsModelSource(MODEL));
  const sizes: [number, number, PhotoKind][] = [
    [1224, 816, 'baseline'],
    [2448, 1632, 'baseline'],
    [4000, 3000, 'baseline'],
    [4000, 3000, 'progressive'],
    [6000, 4000, 'baseline'],
    [4000, 3000, 'png'],
    [4000, 3000, 'webp'],
  ];
  const photos: Uint8Array[] = [];
  for (const [w, h, p] of sizes) photos.push(await photo(w, h, p));
  const wanted = args.variants?.split(',');
  const visions = Object.keys(info.variants).filter((p) => info.variants[p as keyof typeof info.variants]?.vision && (!wanted || wanted.includes(p)));
  const textChoices = args.text === 'no' ? [false] : args.text === 'yes' ? [true] : [false, true];
  // Variants with an ORT-format form are measured both ways (in place, and the copying .onnx path) unless --in-place says one.
  const placeChoices = (v: string) => {
    const has = info.variants[v as keyof typeof info.variants]?.vision?.ort !== undefined;
    if (args['in-place'] === 'no' || !has) return [false];
    return args['in-place'] === 'yes' ? [true] : [true, false];
  };
  const configs = visions.flatMap((v) =>
    textChoices.filter((t) => !t || resolveTextVariant(info.variants)).flatMap((t) => placeChoices(v).map((inPlace) => ({ variant: v, text: t, inPlace }))),
  );
  // Classify through the prompt cache when the model has one, else embed (same decode + vision path).
  const route = existsSync(path.join(MODEL, 'prompts', `${LABEL_SET}.bin`)) ? `/classify?labelSet=${LABEL_SET}` : '/embed';
  const rows: MemoryRow[] = [];
  let dev = await startDev();
  try {
    // Upload every file once (R2 state persists across restarts of wrangler dev).
    const { readdir } = await import('node:fs/promises');
    const files = (await readdir(MODEL, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.relative(MODEL, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
    const plan = new Map<string, string>();
    for (const c of configs) for (const o of uploadPlan(files, info.variants, { model: MODEL_ID, ...c }).r2) plan.set(o.key, o.path);
    for (const [key, p] of plan) {
      const file = path.join(MODEL, p);
      await call(`/put?key=${encodeURIComponent(key)}&size=${statSync(file).size}`, new Uint8Array(readFileSync(file)));
    }
    for (const [i, c] of configs.entries()) {
      if (i > 0) {
        await dev.stop();
        dev = await startDev(); // a fresh isolate per configuration
      }
      console.error(`${c.variant}${c.inPlace ? ' in place' : ''}${c.text ? ' + text' : ''}: inspector`);
      const cdp = await inspector();
      const heap = async (gc: boolean) => {
        // workerd leaves HeapProfiler.collectGarbage unanswered; a heap snapshot runs a full GC first.
        if (gc) await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
        const u = await cdp.send('Runtime.getHeapUsage');
        return { used: u.usedSize ?? 0, total: u.totalSize ?? 0, backing: u.backingStorageSize ?? 0 };
      };
      /** Runs `work` while sampling the JS heap (used + backing stores) every few ms: the largest sample. */
      const sampled = async <T>(work: () => Promise<T>): Promise<{ result: T; heapMax: number; last: { used: number; backing: number }; atMax: { used: number; backing: number } }> => {
        let done = false;
        let heapMax = 0;
        let last = { used: 0, backing: 0 };
        let atMax = last;
        const sampler = (async () => {
          while (!done) {
            const u = await cdp.send('Runtime.getHeapUsage');
            last = { used: u.usedSize ?? 0, backing: u.backingStorageSize ?? 0 };
            if (last.used + last.backing > heapMax) [heapMax, atMax] = [last.used + last.backing, last];
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
        try {
          return { result: await work(), heapMax, last, atMax };
        } finally {
          done = true;
          await sampler;
          const u = await cdp.send('Runtime.getHeapUsage');
          heapMax = Math.max(heapMax, (u.usedSize ?? 0) + (u.backingStorageSize ?? 0));
        }
      };
      const idle = await heap(true);
      // A configuration whose model leaves no room (auto budget 0: everything 413) is measured with the old fixed 48 MB budget,
      // which local workerd allows (it does not enforce 128 MB): its row then says it does not fit.
      // In place the default is `auto`; an explicit --budget applies there too (ViT-B/16 int8 in place leaves 0).
      const budget = args.budget === 'auto' ? '' : (args.budget ?? (c.inPlace ? '' : '48'));
      const tLoad = performance.now();
      const loaded = (await call(`/load?model=${MODEL_ID}&variant=${c.variant}&text=${c.text}&inPlace=${c.inPlace}&budget=${budget}`)) as { ortWasm: number; inPlace: boolean; loadMs: number };
      const loadMs = performance.now() - tLoad; // timed by the client: workerd's clock only moves on I/O
      if (loaded.inPlace !== c.inPlace) throw new Error(`${c.variant}: asked in place=${c.inPlace}, the Worker loaded in place=${loaded.inPlace}`);
      const afterLoad = await heap(true);
      const requests: MemoryRow['requests'] = [];
      const asRequest = (k: number, r: Answer, s: { heapMax: number; last: { used: number; backing: number } }, ms: number, concurrent?: number): MemoryRow['requests'][number] => {
        const [w, h, kind] = sizes[k]!;
        const denom = Number(/dct-1\/(\d)/.exec(r.image.decode)?.[1] ?? 1);
        return {
          pixels: w * h,
          size: `${w}x${h}${kind === 'baseline' ? '' : ` ${kind}`}`,
          fileBytes: photos[k]!.byteLength,
          decode: r.image.decode,
          ...(concurrent ? { concurrent } : {}),
          afterRequestNoGc: { jsHeapUsed: s.last.used, backing: s.last.backing, ortWasm: r.ortWasm },
          codecWasm: r.codecWasm,
          decodeBudget: r.decodeBudget,
          peakMeasured: r.ortWasm + r.codecWasm + s.heapMax,
          peakEstimate: estimatePeak({ jsHeapUsed: afterLoad.used + afterLoad.backing, ortWasm: r.ortWasm, codecWasm: r.codecWasm, longSide: Math.ceil(Math.max(w, h) / denom), fileBytes: photos[k]!.byteLength * (concurrent ?? 1) }),
          ms: Math.round(ms),
        };
      };
      const send = async (k: number) => {
        const t0 = performance.now();
        const r = (await call(route, photos[k]!).catch((e: Error) => {
          // Over the decode budget (e.g. a progressive JPEG's coefficients): a 413 is a result too.
          if (!/IMAGE_TOO_LARGE|decode budget/.test(e.message)) throw e;
          return { ...loaded, codecWasm: 0, decodeBudget: 0, image: { decode: 'refused (413)' } };
        })) as Answer;
        return { r, ms: performance.now() - t0 };
      };
      let coldStartMs = 0;
      const mib = (b: number) => (b / MB).toFixed(1);
      /** One line per measured request: the peak and its JS heap split at the peak sample (V8 objects, array buffers). */
      const report = (what: string, peak: number, ortWasm: number, codecWasm: number, s: { atMax: { used: number; backing: number } }) =>
        console.log(`${what}: peak ${mib(peak)} MiB = ORT ${mib(ortWasm)} + codec wasm ${mib(codecWasm)} + JS heap ${mib(peak - ortWasm - codecWasm)} (at the peak sample: objects ${mib(s.atMax.used)}, array buffers ${mib(s.atMax.backing)}; after load ${mib(afterLoad.used)} + ${mib(afterLoad.backing)})`);
      const measuredSizes = [...sizes.keys()].filter((k) => !ONLY_12MP || (sizes[k]![0] === 4000 && sizes[k]![2] !== 'progressive'));
      for (const k of measuredSizes) {
        await heap(true);
        const s = await sampled(() => send(k));
        // Fresh isolate → model streamed from local R2, session created (the Worker's own timing) → the first answer.
        if (k === 0) coldStartMs = Math.round(loadMs + s.result.ms);
        requests.push(asRequest(k, s.result.r, s, s.result.ms));
        if (ONLY_12MP) report(`1× ${sizes[k]!.join(' ')} (${s.result.r.image.decode})`, requests.at(-1)!.peakMeasured, s.result.r.ortWasm, s.result.r.codecWasm, s);
      }
      // Four 12 MP photos at once (baseline JPEG, PNG, WebP): they share the isolate's budget (body pool, one decode at a time).
      for (const kind of Array.from({ length: REPEAT }, () => ['baseline', 'png', 'webp'] as const).flat()) {
        await heap(true);
        const twelve = sizes.findIndex(([w, , p]) => w === 4000 && p === kind);
        const burst = await sampled(() => Promise.all([0, 1, 2, 3].map(() => send(twelve))));
        // One row for the burst: its slowest request, and the decode path (all four decode the same way: they share one budget).
        const slowest = burst.result.reduce((a, b) => (b.ms > a.ms ? b : a));
        if (new Set(burst.result.map((x) => x.r.image.decode)).size !== 1) throw new Error(`the burst decoded differently: ${burst.result.map((x) => x.r.image.decode).join(', ')}`);
        // Each answer's codec figure is the most since the previous answer: the burst's is the largest of them.
        const codecWasm = Math.max(...burst.result.map((x) => x.r.codecWasm));
        requests.push({ ...asRequest(twelve, { ...slowest.r, codecWasm }, burst, slowest.ms, 4), peakMeasured: Math.max(...burst.result.map((x) => x.r.ortWasm + x.r.codecWasm)) + burst.heapMax });
        if (ONLY_12MP) report(`4× 4000 3000 ${kind} (${slowest.r.image.decode}, slowest ${Math.round(slowest.ms)} ms)`, requests.at(-1)!.peakMeasured, slowest.r.ortWasm, codecWasm, burst);
      }
      if (ONLY_12MP) {
        cdp.close();
        continue;
      }
      // Warm latency, batch 1: the 1 MP photo's round trip as the client sees it (workerd's own clock only
      // moves on I/O, so the Worker cannot time its inference); decode, HTTP and loopback are the same for every configuration.
      const client: number[] = [];
      for (let n = 0; n < 10; n++) {
        const t0 = performance.now();
        await call(route, photos[0]!, true);
        client.push(performance.now() - t0);
      }
      cdp.close();
      rows.push({
        model: MODEL_ID,
        variant: c.variant,
        text: c.text,
        inPlace: c.inPlace,
        coldStartMs,
        latency: { requestMsMedian: Number(median(client).toFixed(1)), runs: client.length, batch: 1, photo: '1224x816 JPEG' },
        idle: { jsHeapUsed: idle.used, backing: idle.backing },
        loaded: { jsHeapUsed: afterLoad.used, backing: afterLoad.backing, ortWasm: loaded.ortWasm },
        requests,
      });
      console.log(JSON.stringify(rows.at(-1)));
    }
  } finally {
    await dev.stop();
  }
  if (ONLY_12MP) return; // a partial measurement: the tables keep their full rows
  // Merge: this run's rows replace the same configurations; other models' rows are kept.
  const jsonPath = path.join(ROOT, 'bench/results/workers-memory.json');
  const old = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as MemoryTable).rows : [];
  const same = (a: MemoryRow, b: MemoryRow) => a.model === b.model && a.variant === b.variant && a.text === b.text && !!a.inPlace === !!b.inPlace;
  const kept = old.filter((o) => !rows.some((r) => same(o, r)) && o.requests.every((q) => q.decode !== undefined));
  const merged = [...kept, ...rows].sort((a, b) => a.model.localeCompare(b.model) || 0);
  const table: MemoryTable = { measuredAt: new Date().toISOString(), runtime: 'workerd (wrangler dev --local)', limitBytes: WORKERS_MEMORY_LIMIT, rows: merged };
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench/results/workers-memory.json'), `${JSON.stringify(table, null, 1)}\n`);
  writeFileSync(path.join(ROOT, 'bench/results/workers-memory.md'), memoryMarkdown(table));
  console.log(`wrote bench/results/workers-memory.json (${rows.length} configurations measured, ${merged.length} in the table); ${(WORKERS_MEMORY_LIMIT / MB).toFixed(0)} MB limit`);
}

/** Sends `work` to the measuring Worker while sampling its JS heap every few ms; returns the largest sample too. */
async function sampledHeap<T>(cdp: Awaited<ReturnType<typeof inspector>>, work: () => Promise<T>): Promise<{ result: T; heapMax: number }> {
  let done = false;
  let heapMax = 0;
  const sampler = (async () => {
    while (!done) {
      const u = await cdp.send('Runtime.getHeapUsage');
      heapMax = Math.max(heapMax, (u.usedSize ?? 0) + (u.backingStorageSize ?? 0));
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    return { result: await work(), heapMax };
  } finally {
    done = true;
    await sampler;
  }
}

/**
 * `--text-worker`: the text Worker's memory (src/runtime/workers/text-service.ts, as text-worker.ts
 * runs it) for each text variant the folder has in Workers order, in place and copied: after loading,
 * and the peak of one 64-prompt batch (ImageNet classes in "a photo of a {}.", the largest batch the
 * vision Worker sends). Writes bench/results/workers-memory-text.{json,md}.
 */
async function measureTextWorker(): Promise<void> {
  if (typeof WebSocket === 'undefined') throw new Error('run with node --experimental-websocket (npm run workers:memory does)');
  mkdirSync(CACHE, { recursive: true });
  const info = await readModelInfo(fsModelSource(MODEL));
  const wanted = args.variants?.split(',') ?? ['int8'];
  const variants = Object.keys(info.variants).filter((p) => info.variants[p as keyof typeof info.variants]?.text && wanted.includes(p));
  const imagenet = JSON.parse(readFileSync(path.join(ROOT, 'third_party/zero-shot-prompts/imagenet.json'), 'utf8')) as { classes: (string | string[])[] };
  const prompts = imagenet.classes.slice(0, 64).map((c) => `a photo of a ${Array.isArray(c) ? c[0] : c}.`);
  const rows: Record<string, unknown>[] = [];
  let dev = await startDev();
  try {
    for (const v of variants) {
      const e = info.variants[v as keyof typeof info.variants]!.text!;
      for (const f of [e.file, ...(e.ort ? [e.ort.file] : [])]) {
        const file = path.join(MODEL, f);
        await call(`/put?key=${encodeURIComponent(`${MODEL_ID}/${f}`)}&size=${statSync(file).size}`, new Uint8Array(readFileSync(file)));
      }
      for (const name of ['manifest.json', 'config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'preprocessor_config.json'].filter((n) => existsSync(path.join(MODEL, n)))) {
        await call(`/put?key=${encodeURIComponent(`${MODEL_ID}/${name}`)}&size=${statSync(path.join(MODEL, name)).size}`, new Uint8Array(readFileSync(path.join(MODEL, name))));
      }
      const places = e.ort && args['in-place'] !== 'no' ? (args['in-place'] === 'yes' ? [true] : [true, false]) : [false];
      for (const [inPlace, runBatch] of places.flatMap((p) => (args['run-batch'] ?? '8').split(',').map((b) => [p, Number(b)] as const))) {
        await dev.stop();
        dev = await startDev();
        const cdp = await inspector();
        const gcHeap = async () => {
          await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
          const u = await cdp.send('Runtime.getHeapUsage');
          return (u.usedSize ?? 0) + (u.backingStorageSize ?? 0);
        };
        const t0 = performance.now();
        const loaded = (await call(`/load-text?model=${MODEL_ID}&variant=${v}&inPlace=${inPlace}&runBatch=${runBatch}`)) as { ortWasm: number; inPlace: boolean };
        const loadMs = performance.now() - t0;
        if (loaded.inPlace !== inPlace) throw new Error(`${v}: asked in place=${inPlace}, loaded in place=${loaded.inPlace}`);
        const heapLoaded = await gcHeap();
        const body = new TextEncoder().encode(JSON.stringify(prompts));
        const t1 = performance.now();
        const s = await sampledHeap(cdp, () => call('/embed-texts', body) as Promise<{ ortWasm: number }>);
        const batchMs = performance.now() - t1;
        cdp.close();
        const peak = s.result.ortWasm + s.heapMax;
        rows.push({ model: MODEL_ID, variant: v, inPlace, runBatch, loadMs: Math.round(loadMs), afterLoad: { ortWasm: loaded.ortWasm, jsHeap: heapLoaded }, batch64: { ortWasm: s.result.ortWasm, jsHeapMax: s.heapMax, peakMeasured: peak, ms: Math.round(batchMs) } });
        console.log(JSON.stringify(rows.at(-1)));
      }
    }
  } finally {
    await dev.stop();
  }
  const jsonPath = path.join(ROOT, 'bench/results/workers-memory-text.json');
  const old = existsSync(jsonPath) ? ((JSON.parse(readFileSync(jsonPath, 'utf8')) as { rows: Record<string, unknown>[] }).rows ?? []) : [];
  const key = (r: Record<string, unknown>) => `${String(r.model)}|${String(r.variant)}|${String(r.inPlace)}|${String(r.runBatch ?? 64)}`;
  const merged = [...old.filter((o) => !rows.some((r) => key(r) === key(o))), ...rows];
  writeFileSync(jsonPath, `${JSON.stringify({ measuredAt: new Date().toISOString(), runtime: 'workerd (wrangler dev --local)', limitBytes: WORKERS_MEMORY_LIMIT, rows: merged }, null, 1)}\n`);
  const mib = (b: unknown) => (Number(b) / MB).toFixed(1);
  const md = [
    '# The text Worker\'s memory in workerd (`npm run workers:memory -- --text-worker`)',
    '',
    'After loading (ORT wasm + JS heap after a GC) and at the peak of one call of 64 prompts (ImageNet classes, \"a photo of a {}.\"; run `prompts per run` at a time: CLIP_EDGE_TEXT_RUN_BATCH) (ORT wasm + the largest JS-heap sample while it ran), MiB. The limit is 128 MB (122.1 MiB if decimal). Batch time is the round trip as the client sees it (workerd, 1 thread, shared 2-core machine).',
    '',
    '| model | text variant | loaded | prompts per run | after loading: ORT wasm + JS heap | 64 prompts: peak (measured) | 64 prompts: ms | fits 128 MB |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | --- |',
    ...merged.map((r) => {
      const a = r.afterLoad as { ortWasm: number; jsHeap: number };
      const b = r.batch64 as { peakMeasured: number; ms: number };
      return `| ${String(r.model)} | ${String(r.variant)} | ${r.inPlace ? 'in place (.ort)' : 'copy (.onnx)'} | ${String(r.runBatch ?? 64)} | ${mib(a.ortWasm)} + ${mib(a.jsHeap)} | ${mib(b.peakMeasured)} | ${b.ms} | ${b.peakMeasured <= 128e6 ? '✓' : '✗'} |`;
    }),
    '',
  ].join('\n');
  writeFileSync(path.join(ROOT, 'bench/results/workers-memory-text.md'), md);
  console.log('wrote bench/results/workers-memory-text.{json,md}');
}

/**
 * `--parts`: each part Worker of a vision tower split across Workers (`clip-edge quantize --split`),
 * its part loaded in place by the part Worker's own service (src/runtime/workers/vision-part-service.ts)
 * in a fresh isolate: ORT wasm + JS heap after loading, and the peak of one batch-1 run on the
 * activations the previous part gave (part 1: pixels of the tower's input size) — ORT wasm after the
 * run + the larger of the largest JS-heap sample while it ran and the JS heap after loading plus the
 * activations in and out (both alive at the end of ORT's synchronous run, inside which the sampler
 * cannot look; part Workers give both back right after, so samples alone would miss them).
 * Writes bench/results/workers-memory-parts.{json,md}.
 */
async function measureParts(): Promise<void> {
  if (typeof WebSocket === 'undefined') throw new Error('run with node --experimental-websocket (npm run workers:memory does)');
  mkdirSync(CACHE, { recursive: true });
  const info = await readModelInfo(fsModelSource(MODEL));
  const variant = splitVariantOf(info, (args.variant as Precision | undefined) ?? 'auto', WORKERS_VARIANT_ORDER);
  const parts = visionPartsOf(info, variant);
  const { cropHeight: h, cropWidth: w } = info.preprocess;
  let x = new Float32Array(3 * h * w);
  let seed = 7;
  for (let i = 0; i < x.length; i++) x[i] = ((seed = (seed * 16807) % 2147483647) / 2147483647) * 4 - 2;
  let dims = [1, 3, h, w];
  const rows: Record<string, unknown>[] = [];
  let dev = await startDev();
  try {
    const meta = ['manifest.json', 'config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'].filter((n) => existsSync(path.join(MODEL, n)));
    for (const f of [...meta, ...parts.map((p) => p.ort?.file ?? p.file)]) {
      const file = path.join(MODEL, f);
      await call(`/put?key=${encodeURIComponent(`${MODEL_ID}/${f}`)}&size=${statSync(file).size}`, new Uint8Array(readFileSync(file)));
    }
    for (const [i, p] of parts.entries()) {
      await dev.stop();
      dev = await startDev(); // a fresh isolate per part, as each part Worker has its own
      const cdp = await inspector();
      const gcHeap = async () => {
        await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
        const u = await cdp.send('Runtime.getHeapUsage');
        return (u.usedSize ?? 0) + (u.backingStorageSize ?? 0);
      };
      const t0 = performance.now();
      const loaded = (await call(`/load-part?model=${MODEL_ID}&variant=${variant}&part=${i + 1}`)) as { ortWasmBytes: number; inPlace: boolean; file: string };
      const loadMs = performance.now() - t0;
      if (!loaded.inPlace) throw new Error(`part ${i + 1}: not loaded in place (${loaded.file})`);
      const heapLoaded = await gcHeap();
      const run = async () => {
        const r = await fetch(`http://127.0.0.1:${PORT}/run-part?dims=${dims.join(',')}`, { method: 'POST', body: new Uint8Array(x.buffer, x.byteOffset, x.byteLength), signal: AbortSignal.timeout(600_000) });
        if (!r.ok) throw new Error(`part ${i + 1}: ${r.status} ${await r.text()}`);
        return { data: new Float32Array(await r.arrayBuffer()), dims: r.headers.get('x-dims')!.split(',').map(Number), ortWasm: Number(r.headers.get('x-ort-wasm')) };
      };
      const t1 = performance.now();
      const first = await sampledHeap(cdp, run); // the first run: ORT's arena grows to the activations
      const firstMs = performance.now() - t1;
      const second = await sampledHeap(cdp, run);
      cdp.close();
      // Timed alone: the inspector's heap sampling slows the isolate down.
      const t3 = performance.now();
      await run();
      const warmMs = performance.now() - t3;
      // The heap is sampled between tasks only, so not inside ORT's (synchronous) run, at whose end the
      // activations in (still the caller's) and out (just copied out of ORT's heap) are both alive: counted
      // here on top of the JS heap after loading, with ORT's heap at its high-water mark.
      const inOut = x.byteLength + second.result.data.byteLength;
      const accounted = second.result.ortWasm + heapLoaded + inOut;
      const peak = Math.max(first.result.ortWasm + first.heapMax, second.result.ortWasm + second.heapMax, accounted);
      rows.push({
        model: MODEL_ID, variant, part: i + 1, parts: parts.length, file: loaded.file, fileBytes: p.ort?.bytes ?? p.bytes, input: `${p.input} [${dims.join(', ')}]`,
        loadMs: Math.round(loadMs), afterLoad: { ortWasm: loaded.ortWasmBytes, jsHeap: heapLoaded },
        run: { ortWasm: second.result.ortWasm, jsHeapMax: Math.max(first.heapMax, second.heapMax), activationsInOut: inOut, peakAccounted: accounted, peakMeasured: peak, firstMs: Math.round(firstMs), warmMs: Math.round(warmMs) },
      });
      console.log(JSON.stringify(rows.at(-1)));
      [x, dims] = [second.result.data, second.result.dims];
    }
  } finally {
    await dev.stop();
  }
  if (x.length !== info.embedDim) throw new Error(`the last part gave ${x.length} values, the model's embedDim is ${info.embedDim}`);
  const jsonPath = path.join(ROOT, 'bench/results/workers-memory-parts.json');
  const old = existsSync(jsonPath) ? ((JSON.parse(readFileSync(jsonPath, 'utf8')) as { rows: Record<string, unknown>[] }).rows ?? []) : [];
  const key = (r: Record<string, unknown>) => `${String(r.model)}|${String(r.variant)}|${String(r.parts)}|${String(r.part)}`;
  const merged = [...old.filter((o) => !rows.some((r) => key(r) === key(o)) && !(o.model === MODEL_ID && o.variant === variant)), ...rows];
  writeFileSync(jsonPath, `${JSON.stringify({ measuredAt: new Date().toISOString(), runtime: 'workerd (wrangler dev --local)', limitBytes: WORKERS_MEMORY_LIMIT, rows: merged }, null, 1)}\n`);
  const mib = (b: unknown) => (Number(b) / MB).toFixed(1);
  const md = [
    '# Part Workers\' memory in workerd (`npm run workers:memory -- --parts`)',
    '',
    'A vision tower split across Workers (`clip-edge quantize <dir> --split int8`), each part in its own fresh isolate, loaded in place by the part Worker\'s own service: after loading (ORT wasm + JS heap after a GC), and the peak of a batch-1 run on the activations the previous part gave, MiB: ORT wasm after the run plus the larger of the largest JS-heap sample while it ran and the JS heap after loading + the activations in and out (both alive at the end of ORT\'s run, which the sampler, answering between tasks only, does not see). The limit is 128 MB (122.1 MiB if decimal). Times are the client\'s (workerd, 1 thread, shared 2-core machine).',
    '',
    '| model | variant | part | `.ort` MiB | input | after loading: ORT wasm + JS heap | run: peak (measured) | load ms | run ms (first, warm) | fits 128 MB (122.1 MiB) |',
    '| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |',
    ...merged.map((r) => {
      const a = r.afterLoad as { ortWasm: number; jsHeap: number };
      const b = r.run as { peakMeasured: number; firstMs: number; warmMs: number };
      return `| ${String(r.model)} | ${String(r.variant)} | ${String(r.part)} of ${String(r.parts)} | ${mib(r.fileBytes)} | ${String(r.input)} | ${mib(a.ortWasm)} + ${mib(a.jsHeap)} | ${mib(b.peakMeasured)} | ${String(r.loadMs)} | ${b.firstMs}, ${b.warmMs} | ${b.peakMeasured <= 128e6 ? '✓' : '✗'} |`;
    }),
    '',
  ].join('\n');
  writeFileSync(path.join(ROOT, 'bench/results/workers-memory-parts.md'), md);
  console.log('wrote bench/results/workers-memory-parts.{json,md}');
}

await (args.parts ? measureParts() : args['text-worker'] ? measureTextWorker() : main());
