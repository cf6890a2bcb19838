// The page's UI thread: camera, files, label choice, results. Inference runs in app/worker.js.
import type { ClassifyResult } from '../core/clip.ts';
import { splitLabels } from '../core/label-sets.ts';
import { TOP_K } from '../core/limits.ts';
import type { FromWorker, PhotosReply, PhotosRequest, ReadyInfo, ToWorker } from './protocol.ts';
import { createSearchTab } from './search-tab.ts';

declare const __ORT_CACHE__: string;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  runtime: $('runtime'),
  download: $('download'),
  downloadText: $('download-text'),
  downloadBar: $<HTMLProgressElement>('download-bar'),
  drop: $('drop'),
  dropText: $('drop-text'),
  video: $<HTMLVideoElement>('video'),
  preview: $<HTMLImageElement>('preview'),
  camera: $<HTMLButtonElement>('camera'),
  capture: $<HTMLButtonElement>('capture'),
  choose: $<HTMLButtonElement>('choose'),
  take: $<HTMLInputElement>('take'),
  file: $<HTMLInputElement>('file'),
  labelSet: $<HTMLSelectElement>('labelset'),
  customBox: $('custom-box'),
  labels: $<HTMLTextAreaElement>('labels'),
  server: $<HTMLInputElement>('server'),
  error: $('error'),
  results: $<HTMLOListElement>('results'),
  meta: $('meta'),
  backend: $<HTMLSelectElement>('backend'),
  variant: $<HTMLSelectElement>('variant'),
};

const CUSTOM = '__custom__';
const params = new URLSearchParams(location.search);
const modelUrl = new URL(document.querySelector<HTMLMetaElement>('meta[name="clip-edge-model"]')!.content, location.href).href;
let worker: Worker | undefined;
let ready: ReadyInfo | undefined;
let nextId = 1;
/** Requests to the worker awaiting their answer, by id. */
const pending = new Map<number, { resolve: (value: never) => void; reject: (e: Error) => void }>();
const deferred = () => {
  const d = { settled: false, resolve: () => {}, reject: (_: Error) => {}, promise: Promise.resolve() };
  d.promise = new Promise<void>((resolve, reject) => {
    d.resolve = () => ((d.settled = true), resolve());
    d.reject = (e) => ((d.settled = true), reject(e));
  });
  d.promise.catch(() => {}); // seen by the requests that wait on it
  return d;
};
/** Settles when the current worker is ready, or fails to start (search-tab requests wait on it). */
let whenReady = deferred();
let lastImage: Uint8Array | undefined;

const mb = (n: number) => (n / 1e6).toFixed(1);

function showError(message: string) {
  ui.error.textContent = message;
  if (message) ui.results.replaceChildren();
}

/** A message people can act on, from an error code of the core or the server. */
function explain(code: string, message: string): string {
  switch (code) {
    case 'UNSUPPORTED_IMAGE':
    case 'UNSUPPORTED_MEDIA_TYPE':
      return `This file is not an image the classifier can read — use a JPEG, PNG or WebP photo. (${message})`;
    case 'CORRUPT_IMAGE':
      return `This image is damaged or incomplete. (${message})`;
    case 'IMAGE_TOO_LARGE':
      return `This image is too large. (${message})`;
    case 'TEXT_ENCODER_UNAVAILABLE':
      return message;
    case 'BAD_INPUT':
    case 'TOO_MANY_LABELS':
      return `Check the labels: ${message}`;
    default:
      return `${code}: ${message}`;
  }
}

class CodedError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

function onWorkerMessage(ev: MessageEvent<FromWorker>) {
  const m = ev.data;
  switch (m.type) {
    case 'progress': {
      if (m.cached) return;
      ui.download.hidden = m.loaded >= m.total && m.total > 0;
      ui.downloadText.textContent = `Downloading ${m.path.split('/').pop()} — ${mb(m.loaded)}${m.total ? ` / ${mb(m.total)}` : ''} MB`;
      ui.downloadBar.max = m.total || 1;
      ui.downloadBar.value = m.total ? m.loaded : 0;
      return;
    }
    case 'ready': {
      ready = m.info;
      whenReady.resolve();
      search.ready(m.info);
      ui.download.hidden = true;
      ui.runtime.textContent = `${m.info.model} · ${m.info.backend} · ${m.info.vision}${m.info.backend === 'wasm' ? ` · ${m.info.threads} thread${m.info.threads > 1 ? 's' : ''}` : ''}`;
      document.body.dataset.ready = m.info.backend;
      document.body.dataset.readyMs = String(Math.round(performance.now())); // since navigation: bench/browser.ts reads it
      fillLabelSets(m.info.labelSets);
      if (lastImage) void classify(lastImage);
      return;
    }
    case 'result':
    case 'photos': {
      const answer = m.type === 'result' ? { result: m.result, ms: m.ms, decoderBytes: m.decoderBytes } : m.reply;
      (pending.get(m.id)?.resolve as ((v: unknown) => void) | undefined)?.(answer);
      pending.delete(m.id);
      return;
    }
    case 'error': {
      if (m.id !== undefined) {
        pending.get(m.id)?.reject(new CodedError(m.code, m.message));
        pending.delete(m.id);
      } else {
        ui.download.hidden = true;
        ui.runtime.textContent = 'could not start';
        showError(`The classifier could not start: ${m.message}`);
        whenReady.reject(new CodedError(m.code, `the model could not start: ${m.message}`));
      }
    }
  }
}

function startWorker() {
  worker?.terminate();
  for (const p of pending.values()) p.reject(new CodedError('INTERNAL', 'restarted'));
  pending.clear();
  if (whenReady.settled) whenReady = deferred(); // requests already waiting keep waiting for the new worker
  ready = undefined;
  delete document.body.dataset.ready;
  ui.runtime.textContent = 'starting…';
  worker = new Worker(new URL('worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = onWorkerMessage;
  worker.onerror = (e) => showError(`The classifier stopped: ${e.message || 'worker error'}`);
  const init: ToWorker = {
    type: 'init',
    backend: ui.backend.value,
    variant: ui.variant.value,
    modelUrl,
    ortBaseUrl: new URL('ort/', location.href).href,
    codecBaseUrl: new URL('codecs/', location.href).href,
    runtimeCache: __ORT_CACHE__,
  };
  worker.postMessage(init);
}

function fillLabelSets(names: string[]) {
  const current = ui.labelSet.value;
  const opts = names.map((n) => new Option(n, n));
  opts.push(new Option('Custom labels…', CUSTOM));
  ui.labelSet.replaceChildren(...opts);
  ui.labelSet.value = current && [...names, CUSTOM].includes(current) ? current : (params.get('labelSet') ?? names[0] ?? CUSTOM);
  ui.customBox.hidden = ui.labelSet.value !== CUSTOM;
}

const customLabels = () => splitLabels(ui.labels.value, { lines: true });

/** Sends a request to the worker; its answer (or CodedError) comes back by id. */
function call<T>(msg: ToWorker & { id: number }, transfer: Transferable[] = []): Promise<T> {
  if (!worker || !ready) return Promise.reject(new CodedError('NOT_READY', 'the model is still loading'));
  return new Promise<T>((resolve, reject) => {
    pending.set(msg.id, { resolve, reject });
    worker!.postMessage(msg, transfer);
  });
}

async function classifyHere(image: Uint8Array): Promise<{ result: ClassifyResult; ms: number; decoderBytes?: number }> {
  const copy = image.slice().buffer;
  const custom = ui.labelSet.value === CUSTOM;
  return call({ type: 'classify', id: nextId++, image: copy, topK: TOP_K.classify, ...(custom ? { labels: customLabels() } : { labelSet: ui.labelSet.value }) }, [copy]);
}

// The "Search my photos" tab: its requests wait for the model, then go to the same worker.
const search = createSearchTab({
  async photos(request: PhotosRequest, transfer?: Transferable[]): Promise<PhotosReply> {
    await whenReady.promise;
    return call({ type: 'photos', id: nextId++, request }, transfer);
  },
  explain,
});

async function classifyOnServer(image: Uint8Array): Promise<{ result: ClassifyResult; ms: number }> {
  const form = new FormData();
  form.set('image', new Blob([image as Uint8Array<ArrayBuffer>]), 'image');
  if (ui.labelSet.value === CUSTOM) for (const l of customLabels()) form.append('labels', l);
  else form.set('labelSet', ui.labelSet.value);
  form.set('topK', String(TOP_K.classify));
  const t0 = performance.now();
  let res: Response;
  try {
    res = await fetch(new URL('v1/classify', location.href), { method: 'POST', body: form });
  } catch {
    throw new CodedError('OFFLINE', 'the server cannot be reached (offline?): untick "Classify on the server"');
  }
  const body = (await res.json().catch(() => ({}))) as ClassifyResult & { error?: { code: string; message: string } };
  if (!res.ok) throw new CodedError(body.error?.code ?? `HTTP_${res.status}`, body.error?.message ?? res.statusText);
  return { result: body, ms: performance.now() - t0 };
}

function render(r: ClassifyResult, ms: number, where: string) {
  const items = r.results.map((x) => {
    const li = document.createElement('li');
    li.dataset.label = x.label;
    li.dataset.score = String(x.score);
    const pct = (x.score * 100).toFixed(1);
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = x.label;
    const score = document.createElement('span');
    score.textContent = `${pct} %`;
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.setAttribute('role', 'presentation');
    const fill = document.createElement('span');
    fill.style.width = `${Math.max(0.5, x.score * 100)}%`;
    bar.append(fill);
    li.append(name, score, bar);
    return li;
  });
  ui.results.replaceChildren(...items);
  ui.results.dataset.where = where;
  ui.results.dataset.atMs = String(Math.round(performance.now()));
  ui.meta.textContent = `${where} · ${r.backend} · ${r.variant.vision} · ${Math.round(ms)} ms (inference ${r.timings.inferenceMs.toFixed(1)} ms) · ${r.classes.count} classes from ${r.classes.source}`;
}

let busy = Promise.resolve();
/** Classifications queued or running (exposed as `data-busy` for tests and assistive tooling). */
let inflight = 0;
const track = (delta: number) => {
  inflight += delta;
  document.body.dataset.busy = String(inflight);
};
function classify(image: Uint8Array): Promise<void> {
  lastImage = image;
  track(+1);
  busy = busy.then(async () => {
    showError('');
    if (!ui.server.checked && !ready) {
      ui.meta.textContent = 'The model is loading; the photo is classified as soon as it is ready.';
      return;
    }
    ui.meta.textContent = 'Classifying…';
    try {
      const where = ui.server.checked ? 'server' : 'this device';
      const answer: { result: ClassifyResult; ms: number; decoderBytes?: number } = await (ui.server.checked ? classifyOnServer(image) : classifyHere(image));
      render(answer.result, answer.ms, where);
      // The decoders' wasm memory for this photo (tests and bench/browser-decode.ts read it).
      if (answer.decoderBytes !== undefined) ui.results.dataset.decoderBytes = String(answer.decoderBytes);
      else delete ui.results.dataset.decoderBytes;
    } catch (e) {
      ui.meta.textContent = '';
      showError(e instanceof CodedError ? explain(e.code, e.message) : String(e));
    }
  }).finally(() => track(-1));
  return busy;
}

async function useFile(file: File | undefined) {
  if (!file) return;
  track(+1); // busy from the moment a file is picked
  const bytes = await file.arrayBuffer().then((b) => new Uint8Array(b)).finally(() => track(-1));
  ui.video.hidden = true;
  ui.preview.hidden = false;
  ui.dropText.hidden = true;
  URL.revokeObjectURL(ui.preview.src);
  ui.preview.src = URL.createObjectURL(file);
  ui.preview.alt = `Your image: ${file.name}`;
  ui.preview.onerror = () => {
    ui.preview.hidden = true; // not an image the browser can show either: the error message says why
    ui.dropText.hidden = false;
  };
  await classify(bytes);
}

// Camera: getUserMedia with a capture button; the file input with capture="environment" otherwise.
let stream: MediaStream | undefined;
ui.camera.addEventListener('click', async () => {
  if (stream) {
    stream.getTracks().forEach((t) => t.stop());
    stream = undefined;
    ui.video.hidden = true;
    ui.capture.hidden = true;
    ui.camera.textContent = 'Start camera';
    return;
  }
  if (!navigator.mediaDevices?.getUserMedia) {
    ui.take.click();
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  } catch (e) {
    showError(`The camera is not available (${e instanceof Error ? e.message : String(e)}); choose a photo instead.`);
    ui.take.click();
    return;
  }
  ui.video.srcObject = stream;
  ui.video.hidden = false;
  ui.preview.hidden = true;
  ui.dropText.hidden = true;
  await ui.video.play();
  ui.capture.hidden = false;
  ui.camera.textContent = 'Stop camera';
  ui.capture.focus();
});
ui.capture.addEventListener('click', () => {
  const { videoWidth: w, videoHeight: h } = ui.video;
  if (!w || !h) return;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  canvas.getContext('2d')!.drawImage(ui.video, 0, 0);
  canvas.toBlob((blob) => blob && void useFile(new File([blob], 'camera.jpg', { type: 'image/jpeg' })), 'image/jpeg', 0.92);
});
ui.choose.addEventListener('click', () => ui.file.click());
for (const input of [ui.take, ui.file]) {
  input.addEventListener('change', () => {
    void useFile(input.files?.[0]);
    input.value = '';
  });
}
ui.drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  ui.drop.classList.add('over');
});
ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
ui.drop.addEventListener('drop', (e) => {
  e.preventDefault();
  ui.drop.classList.remove('over');
  void useFile(e.dataTransfer?.files[0]);
});
ui.labelSet.addEventListener('change', () => {
  ui.customBox.hidden = ui.labelSet.value !== CUSTOM;
  if (lastImage) void classify(lastImage);
});
ui.labels.addEventListener('change', () => lastImage && void classify(lastImage));
ui.server.addEventListener('change', () => lastImage && void classify(lastImage));
for (const sel of [ui.backend, ui.variant]) sel.addEventListener('change', startWorker);

ui.backend.value = params.get('backend') ?? 'auto';
ui.variant.value = params.get('variant') ?? 'auto';
if (params.get('labels')) ui.labels.value = params.get('labels')!;
startWorker();

// The service worker caches the page and ORT's loaders so that a second visit works offline.
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register(new URL('sw.js', location.href), { scope: './' }).catch((e: unknown) => console.warn('service worker:', e));
}
