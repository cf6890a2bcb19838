// Zero-shot classify every image in a folder with Deno.
//   deno run --allow-read --allow-env examples/deno-classify-folder.ts <folder> "red circle,blue star,green heart"
// In your own project: import { createDenoClipEdge } from 'npm:clip-edge/deno';
import { createDenoClipEdge } from '../src/runtime/deno/index.ts';

declare const Deno: {
  args: string[];
  readDir(path: string): AsyncIterable<{ name: string; isFile: boolean }>;
  readFile(path: string): Promise<Uint8Array>;
  exit(code: number): never;
};

const [folder, labels] = Deno.args;
if (!folder || !labels) {
  console.error('usage: deno run --allow-read --allow-env examples/deno-classify-folder.ts <folder> "label a,label b,…"');
  Deno.exit(2);
}
const clip = await createDenoClipEdge({ backend: 'wasm' });
const names: string[] = [];
for await (const e of Deno.readDir(folder)) if (e.isFile && /\.(jpe?g|png|webp)$/i.test(e.name)) names.push(e.name);
names.sort();
for (const name of names) {
  const r = await clip.classify(await Deno.readFile(`${folder}/${name}`), { labels: labels.split(',').map((s) => s.trim()), topK: 1 });
  console.log(JSON.stringify({ file: name, label: r.results[0]!.label, score: Number(r.results[0]!.score.toFixed(4)) }));
}
