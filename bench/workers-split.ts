// npm run bench:workers-split [-- --model models/vit-l-14-random --photos 8]
//
// A vision tower split across Workers, end to end in workerd: the vision Worker (the production
// worker.ts behind bench/workers/bench-worker.ts) and one part Worker per part
// (wrangler.vision-part.toml, configs written by scripts/workers-split-config.ts), all in one workerd
// run by Miniflare (each Worker bundled by `wrangler deploy --dry-run`) with their service bindings,
// the parts' .ort files in local R2 as `npm run workers:upload` lays them out. Real photos through POST /v1/embed/image; Node embeds the
// same files with onnxruntime-web's WASM backend and the WHOLE tower (the same int8 variant's .ort in
// place). Reports the cosine per photo, the cold start of the chain, and per image the end-to-end
// latency (client-timed) and the CPU time workerd spent (all Workers together: decode, preprocess,
// every part, the RPC hops), read from /proc. Writes bench/results/workers-split-<model>.{md,json}; exits 1
// when a cosine is under 0.99999. Each part's memory: `npm run workers:memory -- --parts`.
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
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
import { readWranglerToml } from '../scripts/workers-upload.ts';
import { bundleWorker, miniflareInfoLog, wranglersMiniflare } from './lib/targets.ts';

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

/** CPU seconds (user + system) of every workerd process under this one (Miniflare's), from /proc. */
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

/** POST over node:http: fetch (undici) gives up waiting for headers after 300 s, and a cold chain on a busy machine can take longer. */
const post = (url: string, body: Uint8Array, type: string) =>
  new Promise<{ status: number; text: string }>((resolve, reject) => {
    // A fresh connection each time (agent: false): a kept-alive one that workerd closed meanwhile fails as "socket hang up".
    const req = httpRequest(url, { method: 'POST', agent: false, headers: { 'content-type': type, 'content-length': body.byteLength } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });

/** The vision Worker's and the part Workers' configs (scripts/workers-split-config.ts) in WORK: [vision, part 1, …]. */
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
  return files.map(([f]) => path.join(WORK, f));
}

// The chain's own deadlines, far beyond a ViT-L/14 image on a busy 2-core machine (the bench times the chain; the
// deadlines are tested in test/workers/workerd/vision-split.test.ts).
const LONG_MS = '900000';

/**
 * The vision Worker and the part Workers in one workerd, run by Miniflare directly (as bench/lib/targets.ts
 * runs the Worker), each bundled once by `wrangler deploy --dry-run`. Not `wrangler dev`: its esbuild watch
 * rebuilds and its proxy Worker then answers a request in flight "Your worker restarted mid-request"
 * (docs/workers.md), which a cold ViT-L/14 chain of minutes on a shared machine ran into.
 */
async function startChain(configs: string[]): Promise<{ url: string; log: () => string; stop: () => Promise<void> }> {
  const [visionConfig, ...partConfigs] = configs;
  const vision = bundleWorker(path.join(WORK, 'build/vision'), visionConfig, 'bench-worker.js');
  const part = bundleWorker(path.join(WORK, 'build/part'), partConfigs[0], 'vision-part-worker.js');
  const visionText = readFileSync(visionConfig!, 'utf8');
  const compatibilityDate = /compatibility_date\s*=\s*"([^"]+)"/.exec(visionText)![1]!;
  const nameOf = (t: string) => /^name = "([^"]+)"/m.exec(t)![1]!;
  const nextOf = (t: string) => /binding = "(?:VISION_PARTS|NEXT_PART)"\nservice = "([^"]+)"/.exec(t)?.[1];
  const bucket = readWranglerToml(visionText).bucket ?? 'clip-edge-models';
  let log = '';
  const mf = new (await wranglersMiniflare())({
    host: '127.0.0.1',
    port: 0,
    r2Persist: path.join(PERSIST, 'v3/r2'),
    kvPersist: path.join(PERSIST, 'v3/kv'),
    log: await miniflareInfoLog((line) => (log = `${log}${new Date().toISOString().slice(11, 23)} ${line}\n`.slice(-200_000))),
    workers: [
      {
        name: nameOf(visionText),
        ...vision,
        compatibilityDate,
        bindings: { ...readWranglerToml(visionText).vars, CLIP_EDGE_REQUEST_LOG: '0', CLIP_EDGE_REQUEST_TIMEOUT_MS: LONG_MS, CLIP_EDGE_VISION_TIMEOUT_MS: LONG_MS },
        r2Buckets: { MODELS: bucket },
        kvNamespaces: { PROMPTS: /\[\[kv_namespaces\]\][^[]*?id\s*=\s*"([^"]+)"/.exec(visionText)?.[1] ?? 'PROMPTS' },
        serviceBindings: { VISION_PARTS: { name: nextOf(visionText)!, entrypoint: 'VisionPart' } },
      },
      ...partConfigs.map((f) => {
        const t = readFileSync(f, 'utf8');
        const next = nextOf(t);
        return {
          name: nameOf(t),
          ...part,
          compatibilityDate,
          bindings: { ...readWranglerToml(t).vars, CLIP_EDGE_VISION_TIMEOUT_MS: LONG_MS },
          r2Buckets: { MODELS: bucket },
          ...(next ? { serviceBindings: { NEXT_PART: { name: next, entrypoint: 'VisionPart' } } } : {}),
        };
      }),
    ],
  });
  const url = (await mf.ready).origin;
  return { url, log: () => log, stop: () => mf.dispose() };
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
  const t0 = performance.now();
  const dev = await startChain(writeConfigs(parts.length));
  console.error(`  workerd up in ${((performance.now() - t0) / 1000).toFixed(1)} s (bundles built, isolates started)`);
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
      const r = await post(`${dev.url}/v1/embed/image`, p, 'image/jpeg');
      const text = r.text;
      const ms = performance.now() - t0;
      if (r.status !== 200 || !text.startsWith('{')) throw new Error(`${r.status} after ${ms.toFixed(0)} ms: ${text.slice(0, 500)}`);
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
    // workerd's output (each part's load time, any fault) is kept: a chain that fails shows why there.
    writeFileSync(path.join(WORK, 'workerd.log'), dev.log());
    console.error(`  workerd's log: ${path.relative(ROOT, path.join(WORK, 'workerd.log'))}`);
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
    `the vision Worker and ${parts.length} part Workers in one workerd run by Miniflare (service bindings, Workers RPC; bundles of \`wrangler deploy --dry-run\`), each part's`,
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
