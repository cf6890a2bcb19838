/// <reference lib="webworker" />
// The page's inference worker: the same core as the server (decode, preprocess, tokenizer, prompt
// cache, zero-shot), on ORT-web's WebGPU or WASM build, so the UI thread never blocks.
import type { ClipEdge } from '../core/clip.ts';
import { isClipEdgeError } from '../core/errors.ts';
import { isPrecision } from '../core/precision.ts';
import { defaultThreads } from '../runtime/browser/ort.ts';
import { createBrowserClipEdge } from '../runtime/browser/create.ts';
import { fetchModelSource, readWithProgress } from '../runtime/browser/model-source.ts';
import { createPhotoLibrary, type PhotoLibrary } from './photos.ts';
import type { FromWorker, InitMessage, ToWorker } from './protocol.ts';

declare const self: DedicatedWorkerGlobalScope;

const post = (m: FromWorker, transfer: Transferable[] = []) => self.postMessage(m, transfer);
const fail = (e: unknown, id?: number) =>
  post({
    type: 'error',
    ...(id !== undefined ? { id } : {}),
    code: isClipEdgeError(e) ? e.code : 'INTERNAL',
    message: e instanceof Error ? e.message : String(e),
  });

let clip: Promise<ClipEdge> | undefined;
let photos: PhotoLibrary | undefined;

/** ORT's wasm from Cache Storage, else downloaded (with progress) and cached for offline use. */
const wasmFromCache = (m: InitMessage) => async (file: string) => {
  const url = new URL(file, m.ortBaseUrl).href;
  const cache = await caches.open(m.runtimeCache);
  const hit = await cache.match(url);
  if (hit) {
    const bytes = await hit.arrayBuffer();
    post({ type: 'progress', path: file, loaded: bytes.byteLength, total: bytes.byteLength, cached: true });
    return bytes;
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${file}: HTTP ${res.status}`);
  const total = Number(res.headers.get('content-length')) || 0;
  const bytes = await readWithProgress(res, (loaded) => post({ type: 'progress', path: file, loaded, total, cached: false }));
  await cache.put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/wasm' } }));
  return bytes;
};

async function init(m: InitMessage): Promise<ClipEdge> {
  const t0 = performance.now();
  const source = fetchModelSource(m.modelUrl, { onProgress: (p) => post({ type: 'progress', ...p }) });
  const variant = m.variant === 'auto' || !isPrecision(m.variant) ? 'auto' : m.variant;
  const kit = await createBrowserClipEdge({
    modelUrl: m.modelUrl,
    source,
    ortBaseUrl: m.ortBaseUrl,
    codecBaseUrl: m.codecBaseUrl,
    backend: m.backend,
    visionVariant: variant,
    wasmBinary: wasmFromCache(m),
    maxBatch: 4,
  });
  // Fetch the vision encoder and create its session now, so the first photo only waits for inference;
  // the text encoder is fetched only when custom labels need it.
  await kit.warmup({ text: false });
  const status = kit.status();
  const index = await source.index();
  post({
    type: 'ready',
    info: {
      model: status.id,
      backend: status.backend,
      vision: status.active.vision.variant,
      ...(status.active.text ? { text: status.active.text.variant } : {}),
      hasText: kit.hasText,
      threads: defaultThreads(),
      crossOriginIsolated: self.crossOriginIsolated,
      labelSets: index.labelSets,
      loadMs: performance.now() - t0,
    },
  });
  return kit;
}

self.onmessage = async (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.type === 'init') {
    clip = init(m);
    clip.catch((e: unknown) => fail(e));
    return;
  }
  if (m.type === 'classify') {
    try {
      if (!clip) throw new Error('the worker was not initialised');
      const kit = await clip;
      const t0 = performance.now();
      kit.codecMemoryPeakBytes(); // starts the peak afresh for this photo
      const result = await kit.classify(new Uint8Array(m.image), {
        ...(m.labelSet ? { labelSet: m.labelSet } : {}),
        ...(m.labels ? { labels: m.labels } : {}),
        topK: m.topK,
      });
      post({ type: 'result', id: m.id, result, ms: performance.now() - t0, decoderBytes: kit.codecMemoryPeakBytes() });
    } catch (e) {
      fail(e, m.id);
    }
    return;
  }
  if (m.type === 'photos') {
    try {
      if (!clip) throw new Error('the worker was not initialised');
      photos ??= createPhotoLibrary(await clip);
      post({ type: 'photos', id: m.id, reply: await photos.handle(m.request) });
    } catch (e) {
      fail(e, m.id);
    }
  }
};
