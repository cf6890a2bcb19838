// Node's answers for the images the workerd tests classify, printed as JSON (run by global-setup.ts
// in a plain Node process: onnxruntime-web loads its wasm from node_modules there).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createMemoryIndex } from '../../src/search/drivers/memory.ts';
import { wasmBackend } from '../../src/runtime/fs/ort.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { EVAL_DIR } from '../helpers/clip.ts';
import { COMPARE_LABEL_SET, TEXT_COMPARE, type NodeAnswers } from './fixtures.ts';

const labels = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as { images: { file: string }[] };
// Spread over the classes (the list is sorted by label).
const jpgs = labels.images.filter((i) => i.file.endsWith('.jpg')).filter((_, k) => k % 53 === 0).slice(0, 6);
const pngs = labels.images.filter((i) => i.file.endsWith('.png')).filter((_, k) => k % 17 === 3).slice(0, 2);
const clip = await createNodeClipEdge({ backend: 'wasm', text: false });
// The same variant's ORT-format file loaded in place (as the Worker does by default).
const inPlace = await createNodeClipEdge({ backends: [wasmBackend({ inPlace: true })], text: false });
if (!inPlace.status().active.vision.inPlace) throw new Error('node-answers: the model folder has no ORT-format vision variant to load in place');
const answers: NodeAnswers = { variant: '', labelSet: COMPARE_LABEL_SET, images: [], text: undefined! };
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

// The text Worker's answers as Node gives them: the same text variant (the Workers' pick: int8) on
// onnxruntime-web, inline labels never cached, a text embedding, and text search over a memory index.
const withText = await createNodeClipEdge({ backend: 'wasm', textVariant: TEXT_COMPARE.variant, text: true, promptCache: undefined });
const searchFiles = labels.images.filter((_, k) => k % 29 === 5).slice(0, 16).map((i) => `test/fixtures/tiny-clip-eval/${i.file}`);
const index = await createMemoryIndex({ model: withText.info.id, dim: withText.info.embedDim });
for (const file of searchFiles) {
  const e = await withText.embedImage(new Uint8Array(readFileSync(path.join(REPO, file))));
  await index.upsert([{ id: file, vector: e.embedding }], { model: withText.info.id });
}
const query = (await withText.embedText([TEXT_COMPARE.query])).embeddings[0]!;
answers.text = {
  variant: withText.status().active.text!.variant,
  classify: await Promise.all(
    TEXT_COMPARE.images.map(async (file) => {
      const r = await withText.classify(new Uint8Array(readFileSync(path.join(REPO, file))), { labels: [...TEXT_COMPARE.labels], topK: TEXT_COMPARE.labels.length });
      return { file, results: r.results.map(({ label, score }) => ({ label, score })) };
    }),
  ),
  queryEmbedding: Array.from(query),
  searchFiles,
  searchTop10: (await index.query(query, { topK: 10 })).map((m) => m.id),
};
process.stdout.write(JSON.stringify(answers));
