// Type-checked by the consumer test with a strict NodeNext tsconfig: every entry's declarations,
// the library API's types, and the error type.
import { readFile } from 'node:fs/promises';
import { ClipEdgeError, type ClipEdgeErrorCode, type ClassifyResult, createClipApp, createPullProgress, loadClipEdge, type ClipEdgeKit } from 'clip-edge/node';
import { createBrowserClipEdge, type BrowserClipEdgeOptions } from 'clip-edge/browser';
import { createWorkersApp, type WorkersEnv } from 'clip-edge/workers';
import { readImageInput, type ImageInput } from 'clip-edge';
import type { LoadClipEdgeOptions } from 'clip-edge/deno';
import type { serveBun } from 'clip-edge/bun';

const progress = createPullProgress();
const options: LoadClipEdgeOptions = { backend: 'wasm', onProgress: progress.onProgress };
const clip: ClipEdgeKit = await loadClipEdge(undefined, options);
const inputs: ImageInput[] = ['photo.jpg', new URL('file:///photo.jpg'), new Uint8Array(await readFile('photo.jpg')), new Blob([])];
const r: ClassifyResult = await clip.classify(inputs[0]!, { labels: ['red circle', 'blue star'], topK: 1 });
const top: { label: string; score: number } | undefined = r.results[0];
const app = createClipApp({ clip });
const bytes: Uint8Array = await readImageInput(new Blob([]));
try {
  await clip.embedImage(bytes);
} catch (e) {
  if (e instanceof ClipEdgeError) {
    const code: ClipEdgeErrorCode = e.code;
    console.log(code);
  }
}
const browserOptions: BrowserClipEdgeOptions = { modelUrl: '/m/', ortBaseUrl: '/ort/', codecBaseUrl: '/codecs/' };
const browserKit: typeof createBrowserClipEdge = createBrowserClipEdge;
const worker = (env: WorkersEnv) => createWorkersApp(env);
const server: typeof serveBun | undefined = undefined;
console.log(top?.label, app.fetch, browserOptions, browserKit, worker, server);
