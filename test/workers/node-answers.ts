// Node's answers for the images the workerd tests classify, printed as JSON (run by global-setup.ts
// in a plain Node process: onnxruntime-web loads its wasm from node_modules there).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { wasmBackend } from '../../src/runtime/fs/backends.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { EVAL_DIR } from '../helpers/clip.ts';
import { COMPARE_LABEL_SET, type NodeAnswers } from './fixtures.ts';

const labels = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as { images: { file: string }[] };
// Spread over the classes (the list is sorted by label).
const jpgs = labels.images.filter((i) => i.file.endsWith('.jpg')).filter((_, k) => k % 53 === 0).slice(0, 6);
const pngs = labels.images.filter((i) => i.file.endsWith('.png')).filter((_, k) => k % 17 === 3).slice(0, 2);
const clip = await createNodeClipEdge({ backend: 'wasm', text: false });
// The same variant's ORT-format file loaded in place (as the Worker does by default).
const inPlace = await createNodeClipEdge({ backends: [wasmBackend({ inPlace: true })], text: false });
if (!inPlace.status().active.vision.inPlace) throw new Error('node-answers: the model folder has no ORT-format vision variant to load in place');
const answers: NodeAnswers = { variant: '', labelSet: COMPARE_LABEL_SET, images: [] };
const REPO = path.resolve(EVAL_DIR, '../../..');
const files = [...[...jpgs, ...pngs].map((i) => `test/fixtures/tiny-clip-eval/${i.file}`), 'test/workers/fixtures/shape.webp'];
for (const file of files) {
  const bytes = new Uint8Array(readFileSync(path.join(REPO, file)));
  const r = await clip.classify(bytes, { labelSet: COMPARE_LABEL_SET, topK: 3 });
  const e = await clip.embedImage(bytes);
  answers.variant = r.variant.vision;
  answers.images.push({
    file,
    results: r.results.map(({ label, score }) => ({ label, score })),
    embedding: Array.from(e.embedding),
    inPlaceEmbedding: Array.from((await inPlace.embedImage(bytes)).embedding),
  });
}
process.stdout.write(JSON.stringify(answers));
