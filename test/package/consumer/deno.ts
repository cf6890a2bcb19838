// deno run --allow-read --allow-env deno.ts: the installed package from Deno (package.json + node_modules).
import { loadClipEdge } from 'clip-edge/deno';

const clip = await loadClipEdge(undefined, { backend: 'wasm' });
const r = await clip.classify('photo.jpg', { labels: ['red circle', 'blue star', 'green heart'], topK: 1 });
console.log(JSON.stringify({ runtime: 'deno', backend: r.backend, top: r.results[0] }));
