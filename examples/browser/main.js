// Bundle with `npx esbuild main.js --bundle --format=esm --outfile=app.js`. The page's server
// provides the model folder, ORT's files and the decoders' wasm (what `clip-edge serve` serves;
// the files /codecs/ needs: docs/mobile-web.md).
import { createBrowserClipEdge } from 'clip-edge/browser';

const clip = await createBrowserClipEdge({ modelUrl: '/models/tiny-clip/', ortBaseUrl: '/ort/', codecBaseUrl: '/codecs/' });

// A File from <input type="file">, a Blob, bytes or a fetch() Response: all classify the same.
globalThis.classifyUrl = async (url, labels) => clip.classify(await fetch(url), { labels, topK: 3 });
