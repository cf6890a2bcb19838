// Type-checked by the consumer test with `"types": []` (no Node types anywhere in the program): the
// Web-standard entries — the root, clip-edge/browser, clip-edge/workers — and clip-edge/deno must
// not need @types/node, so a Worker, browser or Deno project type-checks without it.
import { ClipEdgeError, readImageInput, type ClassifyResult, type ImageInput } from 'clip-edge';
import { createBrowserClipEdge, type BrowserClipEdgeOptions } from 'clip-edge/browser';
import { createWorkersApp, type WorkersEnv } from 'clip-edge/workers';
import { loadClipEdge, type LoadClipEdgeOptions } from 'clip-edge/deno';

const input: ImageInput = new Blob([]);
const bytes: Uint8Array = await readImageInput(input);
const options: BrowserClipEdgeOptions = { modelUrl: '/m/', ortBaseUrl: '/ort/', codecBaseUrl: '/codecs/' };
const worker = (env: WorkersEnv) => createWorkersApp(env);
const deno: LoadClipEdgeOptions = { backend: 'wasm' };
const top = (r: ClassifyResult) => r.results[0]?.label;
console.log(bytes, options, createBrowserClipEdge, worker, deno, loadClipEdge, top, ClipEdgeError);
