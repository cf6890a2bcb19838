// Prompt-cache benchmark: what precomputing label sets saves at request time.
//   npm run bench:prompt-cache [-- --model models/vit-b-32-random] [-- --iterations 20]
// Writes bench/results/<date>-<host>-prompt-cache-<model>.{json,md}. Ratios and medians from one run on one machine.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { decodePromptCache, encodePromptCache } from '../src/core/prompt-cache/format.ts';
import { memoryPromptCacheStore } from '../src/core/prompt-cache/store.ts';
import { logits, normalizeRows, softmax, topK } from '../src/core/zeroshot.ts';
import { createNodeClipEdge, DEFAULT_MODEL_DIR, PACKAGE_ROOT } from '../src/runtime/fs/create.ts';
import { fsPromptCacheStore } from '../src/runtime/fs/prompt-cache.ts';

const { values } = parseArgs({
  options: { model: { type: 'string' }, iterations: { type: 'string', default: '15' }, backend: { type: 'string', default: 'wasm' }, ks: { type: 'string', default: '10,100,1000' } },
});
const modelDir = path.resolve(values.model ?? DEFAULT_MODEL_DIR);
const iters = Number(values.iterations);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))]!;
const time = async (n: number, fn: (i: number) => unknown) => {
  await fn(-1); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return { medianMs: median(out), p90Ms: p90(out), n };
};

const imagenet = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'third_party/zero-shot-prompts/imagenet.json'), 'utf8')) as { classes: string[] };
// A small JPEG from the eval set, so that decoding does not drown the text-side differences.
const image = readFileSync(path.join(PACKAGE_ROOT, 'test/fixtures/tiny-clip-eval/images/red_circle_01.jpg'));
const memory = memoryPromptCacheStore();
const clip = await createNodeClipEdge({ model: modelDir, backend: values.backend, promptCache: memory, limits: { maxLabels: 1000 } });
const dim = clip.info.embedDim;
console.error(`model ${clip.info.id} (dim ${dim}), backend ${clip.backend.name}, ${iters} iterations`);

// 1. Loading the ImageNet cache (1000 classes) from disk, validated (sha256, header, label set).
//    Models without one (the random ViT-B/32-shape stand-in: embedding 80,000 prompts would take an
//    hour) get a synthetic cache of random unit vectors, marked as such: same size, same code path.
let store = fsPromptCacheStore(path.join(modelDir, 'prompts'));
const set = await clip.labelSet('imagenet');
const shas = Object.values(clip.info.variants).map((t) => t?.text?.sha256).filter((x): x is string => !!x);
const synthetic = (await store.get('imagenet')) === undefined;
if (synthetic) {
  let seed = 1;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const m = normalizeRows(new Float32Array(set.labels.length * dim).map(rnd), dim);
  const textFp32 = clip.info.variants.fp32?.text;
  store = fsPromptCacheStore(mkdtempSync(path.join(os.tmpdir(), 'clip-edge-bench-')));
  await store.put('imagenet', await encodePromptCache(m, { labelSet: set, model: clip.info.id, textEncoder: { file: textFp32!.file, precision: 'fp32', sha256: textFp32!.sha256! }, dim, dtype: 'float16' }));
}
const load = await time(iters, async () => decodePromptCache((await store.get('imagenet'))!, { labelSet: set, dim, textEncoderSha256: shas }));
const matrix = await decodePromptCache((await store.get('imagenet'))!, { labelSet: set, dim, textEncoderSha256: shas });
await memory.put('imagenet', (await store.get('imagenet'))!);

// 2. Scoring one image embedding against 1000 classes (logits, softmax, top-5).
const { embedding } = await clip.embedImage(image);
const score = await time(200, () => topK(softmax(logits(embedding, matrix, dim, 100)), 5));

// 3. Classify latency: a 1000-class label set from the cache vs encoding K labels in the request
//    (one template, as peers do). The cache is the model folder's, or built once here (not timed).
const cachedSet = 'imagenet';
const cached = await time(iters, () => clip.classify(image, { labelSet: cachedSet, topK: 5 }));
const perK: Record<string, { medianMs: number; p90Ms: number; n: number; ratioCachedOverEncoded: number }> = {};
for (const k of values.ks!.split(',').map(Number)) {
  const n = k === 1000 ? Math.max(3, Math.floor(iters / 5)) : k === 100 ? Math.max(5, Math.floor(iters / 2)) : iters;
  // A new set of labels each iteration, so nothing is reused from memory.
  const r = await time(n, (i) => clip.classify(image, { labels: imagenet.classes.slice(0, k).map((c, j) => `${c} ${j}.${i + 2}`), templates: ['a photo of a {}.'], topK: 5 }));
  perK[`K=${k}`] = { ...r, ratioCachedOverEncoded: cached.medianMs / r.medianMs };
  console.error(`K=${k}: ${r.medianMs.toFixed(1)} ms (cached ${cached.medianMs.toFixed(1)} ms)`);
}

const result = {
  benchmark: 'prompt-cache',
  date: new Date().toISOString(),
  host: os.hostname(),
  cpu: os.cpus()[0]?.model,
  cores: os.cpus().length,
  node: process.version,
  model: clip.info.id,
  dim,
  backend: clip.backend.name,
  command: `npm run bench:prompt-cache -- ${process.argv.slice(2).join(' ')}`.trim(),
  loadImagenetCache: load,
  syntheticCache: synthetic,
  scoreImagenet1000: score,
  classifyWithCache: cached,
  classifyEncodingLabels: perK,
};
const dir = path.join(PACKAGE_ROOT, 'bench/results');
mkdirSync(dir, { recursive: true });
const base = path.join(dir, `${result.date.slice(0, 10)}-${result.host}-prompt-cache-${clip.info.id.replace(/[^A-Za-z0-9._-]/g, '_')}`);
writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 1)}\n`);
const f = (x: { medianMs: number; p90Ms: number }) => `${x.medianMs.toFixed(3)} ms (p90 ${x.p90Ms.toFixed(3)})`;
const md = [
  `# Prompt cache — ${clip.info.id}, ${clip.backend.name} backend`,
  '',
  `${result.date} · ${result.cpu} × ${result.cores} · Node ${result.node} · \`${result.command}\``,
  '',
  '| measure | median (p90) |',
  '| --- | --- |',
  `| load + validate the ImageNet cache (1000 classes, fp16, sha256 checked)${synthetic ? ' — synthetic random-vector cache' : ''} | ${f(load)} |`,
  `| score one image against 1000 classes (logits, softmax, top-5) | ${f(score)} |`,
  `| classify, 1000-class label set (${cachedSet}) from the cache | ${f(cached)} |`,
  ...Object.entries(perK).map(([k, v]) => `| classify, ${k} labels encoded in the request | ${f(v)} — cached/encoded = ${v.ratioCachedOverEncoded.toFixed(3)} |`),
  '',
];
writeFileSync(`${base}.md`, md.join('\n'));
console.log(md.join('\n'));
