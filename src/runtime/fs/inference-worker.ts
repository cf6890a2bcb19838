// The inference thread of one ClipEdge (inference-thread.ts): onnxruntime (native or WASM) and all
// of its sessions live here, so that a run of up to seconds of CPU never holds the main thread's
// event loop. One thread, one ORT instance, one copy of each session: the same memory as in-thread.
import { MessageChannel, parentPort, workerData } from 'node:worker_threads';
import type { Backend, InPlaceSessionOptions, SessionLike, TensorLike } from '../../core/backend.ts';
import { isClipEdgeError } from '../../core/errors.ts';
import type { ModelStream } from '../../core/model/source.ts';
import { nativeBackend, type NodeBackendOptions, wasmBackend } from './ort.ts';
import { lowerThreadPriority } from './thread-priority.ts';

// Before onnxruntime starts any thread of its own: they inherit it.
lowerThreadPriority((workerData as InferenceWorkerData).threadNice);

export type ThreadedBackendName = 'node' | 'wasm';

/** What the main thread hands the inference thread (inference-thread.ts): its backend options, and its nice steps (checked there). */
export type InferenceWorkerData = NodeBackendOptions & { readonly threadNice: number };

/** A tensor as plain data (what crosses between the threads). */
export interface PlainTensor {
  readonly type: string;
  readonly data: TensorLike['data'];
  readonly dims: readonly number[];
}

/** What a created session looks like from the main thread. */
export interface SessionMeta {
  readonly session: number;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: SessionLike['inputMetadata'];
  readonly outputMetadata?: SessionLike['outputMetadata'];
  /** An in-place session's sha256 of the streamed file. */
  readonly sha256?: string;
}

export type InferenceCall =
  | { readonly id: number; readonly op: 'init'; readonly backend: ThreadedBackendName }
  | { readonly id: number; readonly op: 'create'; readonly backend: ThreadedBackendName; readonly model: Uint8Array }
  | { readonly id: number; readonly op: 'createInPlace'; readonly backend: ThreadedBackendName; readonly size: number; readonly options: InPlaceSessionOptions }
  | { readonly id: number; readonly op: 'run'; readonly session: number; readonly feeds: Record<string, PlainTensor>; readonly fetches?: readonly string[] }
  | { readonly id: number; readonly op: 'release'; readonly session: number };

/** The next piece of an in-place model stream (answers a `pull`): bytes, or none at its end. */
export interface StreamChunk {
  readonly op: 'chunk';
  readonly stream: number;
  readonly data?: Uint8Array;
  readonly error?: string;
}

export interface SerializedError {
  readonly code?: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

export type InferenceReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown; readonly memoryBytes?: number }
  | { readonly id: number; readonly ok: false; readonly error: SerializedError }
  | { readonly pull: number }
  | { readonly listening: true };

const options: NodeBackendOptions = workerData as InferenceWorkerData;
const port = parentPort!;
const backends = new Map<ThreadedBackendName, Backend>();
const sessions = new Map<number, { session: SessionLike; backend: Backend }>();
const chunkWaiters = new Map<number, (c: StreamChunk) => void>();
let nextSession = 1;

/**
 * Frees a buffer's memory now. A model read whole (350 MB for ViT-B/32 fp32) is garbage once its
 * session exists, but this thread allocates almost nothing afterwards, so no full GC came to free
 * it: measured +470 MiB of RSS against inference on the main thread (WASM, ViT-B/32 towers). Moving
 * it into a message that is never read detaches it, and closing the channel drops its bytes
 * (`ArrayBuffer.prototype.transfer(0)` does the same where it exists: Node 22+, Deno, Bun).
 */
function releaseNow(buffer: ArrayBuffer): void {
  const b = buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer; detached?: boolean };
  if (b.detached) return;
  if (typeof b.transfer === 'function') return void b.transfer(0);
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(null, [buffer]);
  port1.close();
  port2.close();
}

const backendOf = (name: ThreadedBackendName): Backend => {
  let b = backends.get(name);
  if (!b) backends.set(name, (b = name === 'node' ? nativeBackend(options) : wasmBackend(options)));
  return b;
};

/** The main thread's model stream, pulled one chunk at a time (never more than one in flight: no copy of the file piles up here). */
async function* pulled(stream: number): AsyncGenerator<Uint8Array> {
  for (;;) {
    const chunk = await new Promise<StreamChunk>((resolve) => {
      chunkWaiters.set(stream, resolve);
      port.postMessage({ pull: stream } satisfies InferenceReply);
    });
    if (chunk.error !== undefined) throw new Error(chunk.error);
    if (!chunk.data) return;
    yield chunk.data;
  }
}

function metaOf(s: SessionLike, backend: Backend): SessionMeta {
  const session = nextSession++;
  sessions.set(session, { session: s, backend });
  const sha256 = (s as { sha256?: string }).sha256;
  return { session, inputNames: [...s.inputNames], outputNames: [...s.outputNames], inputMetadata: s.inputMetadata, outputMetadata: s.outputMetadata, ...(sha256 ? { sha256 } : {}) };
}

const sessionOf = (id: number): { session: SessionLike; backend: Backend } => {
  const s = sessions.get(id);
  if (!s) throw new Error(`inference session ${id} was released`);
  return s;
};

/** Runs one session; the outputs' buffers are handed over, not copied. */
async function run(call: Extract<InferenceCall, { op: 'run' }>): Promise<{ value: Record<string, PlainTensor>; transfer: ArrayBuffer[] }> {
  const { session: s, backend } = sessionOf(call.session);
  const feeds: Record<string, TensorLike> = {};
  for (const [name, t] of Object.entries(call.feeds)) {
    feeds[name] = t.type === 'int64' ? backend.tensor('int64', t.data as BigInt64Array, t.dims) : backend.tensor('float32', t.data as Float32Array, t.dims);
  }
  const out = await s.run(feeds, call.fetches);
  const value: Record<string, PlainTensor> = {};
  const transfer: ArrayBuffer[] = [];
  for (const [name, t] of Object.entries(out)) {
    const data = t.data as Float32Array;
    value[name] = { type: t.type, data, dims: [...t.dims] };
    if (ArrayBuffer.isView(data) && data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !transfer.includes(data.buffer)) transfer.push(data.buffer);
  }
  return { value, transfer };
}

async function answer(call: InferenceCall): Promise<{ value: unknown; transfer?: ArrayBuffer[] }> {
  switch (call.op) {
    case 'init': {
      const b = backendOf(call.backend);
      await b.init();
      return { value: { inPlace: b.inPlace !== undefined } };
    }
    case 'create': {
      const b = backendOf(call.backend);
      try {
        return { value: metaOf(await b.createSession(call.model), b) };
      } finally {
        releaseNow(call.model.buffer as ArrayBuffer); // the session holds its own copy now
      }
    }
    case 'createInPlace': {
      const b = backendOf(call.backend);
      if (!b.inPlace) throw new Error(`the ${call.backend} backend has no in-place sessions here`);
      const model: ModelStream = { size: call.size, body: pulled(call.id) };
      return { value: metaOf(await b.inPlace.createSession(model, call.options), b) };
    }
    case 'run':
      return run(call);
    case 'release': {
      const s = sessions.get(call.session);
      sessions.delete(call.session);
      await s?.session.release?.();
      return { value: null };
    }
  }
}

const memoryBytes = (): number | undefined => {
  for (const b of backends.values()) {
    const n = b.inPlace?.memoryBytes();
    if (n !== undefined) return n;
  }
  return undefined;
};

port.on('message', (msg: InferenceCall | StreamChunk) => {
  if (msg.op === 'chunk') {
    const wake = chunkWaiters.get(msg.stream);
    chunkWaiters.delete(msg.stream);
    return wake?.(msg);
  }
  answer(msg).then(
    ({ value, transfer }) => port.postMessage({ id: msg.id, ok: true, value, memoryBytes: memoryBytes() } satisfies InferenceReply, transfer ?? []),
    (e: unknown) => {
      const error: SerializedError = isClipEdgeError(e)
        ? { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) }
        : { message: e instanceof Error ? e.message : String(e) };
      port.postMessage({ id: msg.id, ok: false, error } satisfies InferenceReply);
    },
  );
});
// Listening now: the main thread holds its calls until this arrives (see inference-thread.ts's outbox).
port.postMessage({ listening: true } satisfies InferenceReply);
