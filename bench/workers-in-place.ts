// npm run bench:workers-in-place [-- --model models/vit-b-32-random --photos 12]
//
// Does the Worker's in-place ViT-B/32-shape int8 vision answer what Node's onnxruntime-web answers?
// The production Worker (src/runtime/workers/worker.ts behind bench/workers/bench-worker.ts) runs in
// workerd (`wrangler dev --local`), reads the model folder from local R2 exactly as
// `npm run workers:upload` lays it out (the ORT-format int8 vision file, loaded in place), and embeds
// real photos through POST /v1/embed/image; Node embeds the same files with onnxruntime-web's WASM
// backend, in place on the same .ort and by copying the .onnx int8 variant. Writes
// bench/results/workers-in-place.{md,json}; exits 1 when a cosine is under 0.99999.
// (The test suite checks the same on the bundled model: test/workers/workerd/in-place.test.ts.)
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readModelInfo } from '../src/core/model/info.ts';
import { wasmBackend } from '../src/runtime/fs/ort.ts';
import { createNodeClipEdge } from '../src/runtime/fs/create.ts';
import { fsModelSource } from '../src/runtime/fs/model-source.ts';
import { uploadPlan } from '../scripts/workers-plan.ts';
import { ROOT } from './lib/case.ts';
import { benchPhotos, readPhotos } from './lib/photos.ts';
import { startWranglerDev } from './lib/wrangler-dev.ts';

const MIN_COSINE = 0.99999;
const { values: args } = parseArgs({ options: { model: { type: 'string' }, photos: { type: 'string' } } });
const MODEL = path.resolve(ROOT, args.model ?? 'models/vit-b-32-random');
const MODEL_ID = path.basename(MODEL);
const PERSIST = path.join(ROOT, '.cache/bench-in-place/state');

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

async function main(): Promise<number> {
  const info = await readModelInfo(fsModelSource(MODEL));
  const ort = info.variants.int8?.vision?.ort;
  if (!ort) throw new Error(`${MODEL} has no ORT-format int8 vision variant: clip-edge quantize ${path.relative(ROOT, MODEL)} --variants int8 --towers vision --ort int8`);
  const set = benchPhotos(Number(args.photos ?? 12));
  const photos = readPhotos(set.files);

  console.error('Node: onnxruntime-web WASM, in place (.ort) and copying (.onnx)');
  const common = { model: MODEL, text: false, visionVariant: 'int8' as const };
  const nodeInPlace = await createNodeClipEdge({ ...common, backends: [wasmBackend({ inPlace: true })] });
  const nodeCopy = await createNodeClipEdge({ ...common, backends: [wasmBackend()], inPlace: false });
  if (!nodeInPlace.status().active.vision.inPlace || nodeCopy.status().active.vision.inPlace) throw new Error('Node: in place / copying not as asked');
  const inPlaceRef: Float32Array[] = [];
  const copyRef: Float32Array[] = [];
  for (const p of photos) {
    inPlaceRef.push((await nodeInPlace.embedImage(p)).embedding);
    copyRef.push((await nodeCopy.embedImage(p)).embedding);
  }

  console.error('workerd: the production Worker, model from local R2');
  mkdirSync(PERSIST, { recursive: true });
  const worker = await startWranglerDev({ CLIP_EDGE_MODEL: MODEL_ID, CLIP_EDGE_TEXT: 'false', CLIP_EDGE_VARIANT: 'int8', CLIP_EDGE_IN_PLACE: 'true' }, PERSIST);
  const rows: { file: string; decode: string; workerdVsNodeInPlace: number; workerdVsNodeCopy: number; nodeInPlaceVsCopy: number }[] = [];
  try {
    const files = readdirSync(MODEL, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(MODEL, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
    for (const o of uploadPlan(files, info.variants, { model: MODEL_ID, variant: 'int8', text: false }).r2) {
      const file = path.join(MODEL, o.path);
      console.error(`  R2 ${o.key} (${(statSync(file).size / 2 ** 20).toFixed(1)} MiB)`);
      const r = await fetch(`${worker.url}/bench/put?key=${encodeURIComponent(o.key)}`, { method: 'POST', body: new Uint8Array(readFileSync(file)) });
      if (!r.ok) throw new Error(`put ${o.key}: ${r.status}`);
    }
    const models = (await (await fetch(`${worker.url}/v1/models`)).json()) as { models: { active: { vision: { variant: string; inPlace?: boolean } } }[] };
    if (!models.models[0]!.active.vision.inPlace) throw new Error('workerd: the Worker does not load the vision tower in place');
    for (const [i, p] of photos.entries()) {
      const r = await fetch(`${worker.url}/v1/embed/image`, { method: 'POST', body: p as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'image/jpeg' } });
      const j = (await r.json()) as { embedding: number[]; image: { decode: string }; error?: unknown };
      if (!r.ok) throw new Error(`${set.files[i]}: ${r.status} ${JSON.stringify(j.error)}`);
      rows.push({
        file: path.basename(set.files[i]!),
        decode: j.image.decode,
        workerdVsNodeInPlace: cosine(j.embedding, inPlaceRef[i]!),
        workerdVsNodeCopy: cosine(j.embedding, copyRef[i]!),
        nodeInPlaceVsCopy: cosine(inPlaceRef[i]!, copyRef[i]!),
      });
      console.error(`  ${rows.at(-1)!.file}: ${rows.at(-1)!.workerdVsNodeInPlace.toFixed(7)}`);
    }
  } finally {
    await worker.stop();
  }
  const min = (k: keyof (typeof rows)[number]) => Math.min(...rows.map((r) => r[k] as number));
  const result = {
    measuredAt: new Date().toISOString(),
    model: MODEL_ID,
    file: ort.file,
    photos: set.source,
    minCosine: { workerdVsNodeInPlace: min('workerdVsNodeInPlace'), workerdVsNodeCopy: min('workerdVsNodeCopy'), nodeInPlaceVsCopy: min('nodeInPlaceVsCopy') },
    gate: MIN_COSINE,
    rows,
  };
  const md = [
    '# The Worker in place vs Node (onnxruntime-web), same ViT-B/32-shape int8 variant',
    '',
    `Measured ${result.measuredAt.slice(0, 16).replace('T', ' ')} UTC by \`npm run bench:workers-in-place\` (bench/workers-in-place.ts): ${MODEL_ID}, \`${ort.file}\` loaded in place`,
    'by the production Worker in workerd (`wrangler dev --local`, model from local R2), `POST /v1/embed/image`; Node: onnxruntime-web',
    `WASM in place on the same .ort, and copying the .onnx int8 variant. Photos: ${set.source}. Cosines of unit embeddings; gate ≥ ${MIN_COSINE}.`,
    '',
    '| photo | decode (Worker) | workerd vs Node in place | workerd vs Node copying (.onnx) | Node in place vs copying |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.file} | ${r.decode} | ${r.workerdVsNodeInPlace.toFixed(7)} | ${r.workerdVsNodeCopy.toFixed(7)} | ${r.nodeInPlaceVsCopy.toFixed(7)} |`),
    `| **min** | | **${result.minCosine.workerdVsNodeInPlace.toFixed(7)}** | **${result.minCosine.workerdVsNodeCopy.toFixed(7)}** | **${result.minCosine.nodeInPlaceVsCopy.toFixed(7)}** |`,
    '',
  ].join('\n');
  writeFileSync(path.join(ROOT, 'bench/results/workers-in-place.json'), `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(path.join(ROOT, 'bench/results/workers-in-place.md'), md);
  console.log(md);
  return result.minCosine.workerdVsNodeInPlace >= MIN_COSINE && rows.length >= 8 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(2);
  },
);
