// bun run bun.ts: the installed package from Bun.
import { loadClipEdge } from 'clip-edge/bun';

const clip = await loadClipEdge(undefined, { backend: 'wasm' });
const r = await clip.classify(Bun.file('photo.jpg'), { labels: ['red circle', 'blue star', 'green heart'], topK: 1 });
console.log(JSON.stringify({ runtime: 'bun', backend: r.backend, top: r.results[0] }));
