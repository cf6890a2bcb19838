// clip-edge in your own page, bundled with esbuild:
//   npx esbuild main.js --bundle --format=esm --outfile=app.js
// The page's server provides the model folder (/models/tiny-clip/files.json and its files: what
// `clip-edge serve` serves), onnxruntime-web's dist files (/ort/) and the decoders' wasm (/codecs/).
import { createBrowserClipEdge } from 'clip-edge/browser';

const clip = await createBrowserClipEdge({ modelUrl: '/models/tiny-clip/', ortBaseUrl: '/ort/', codecBaseUrl: '/codecs/' });

export async function classifyUrl(url, labels) {
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  return clip.classify(bytes, { labels, topK: 3 });
}
globalThis.classifyUrl = classifyUrl;
