// Index a folder of images with Bun, then find the best matches for a text query.
//   bun run examples/bun-search-folder.ts <folder> "a photo of a green star"
// In your own project: import { createBunClipEdge } from 'clip-edge/bun';
import { readdir } from 'node:fs/promises';
import { createBunClipEdge, cosine } from '../src/runtime/bun/index.ts';

declare const Bun: { argv: string[]; file(path: string): { arrayBuffer(): Promise<ArrayBuffer> } };

const [folder, query] = Bun.argv.slice(2);
if (!folder || !query) {
  console.error('usage: bun run examples/bun-search-folder.ts <folder> "text query"');
  process.exit(2);
}
const clip = await createBunClipEdge({ backend: 'wasm' });
const files = (await readdir(folder)).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort();
const index: { file: string; embedding: Float32Array }[] = [];
for (const file of files) {
  const bytes = new Uint8Array(await Bun.file(`${folder}/${file}`).arrayBuffer());
  index.push({ file, embedding: (await clip.embedImage(bytes)).embedding });
}
const [q] = (await clip.embedText([query])).embeddings;
const ranked = index.map((e) => ({ file: e.file, similarity: cosine(q!, e.embedding) })).sort((a, b) => b.similarity - a.similarity);
for (const r of ranked.slice(0, 5)) console.log(JSON.stringify({ file: r.file, similarity: Number(r.similarity.toFixed(4)) }));
