import type { Worker } from 'node:worker_threads';
import type { Backend, InPlaceSessionOptions, SessionLike, TensorLike } from '../../core/backend.ts';
import { ClipEdgeError, type ClipEdgeErrorCode } from '../../core/errors.ts';
import type { ModelStream } from '../../core/model/source.ts';
import { chunksOf } from '../../core/ort/wasm/in-place.ts';
import type { InferenceCall, InferenceReply, PlainTensor, SerializedError, SessionMeta, StreamChunk, ThreadedBackendName } from './inference-worker.ts';
import { startModuleThread, threadHolds } from './module-thread.ts';
import { nativeBackend, type NodeBackendOptions, wasmBackend } from './ort.ts';

/*
 * Inference off the event loop (Node, Deno, Bun). Both onnxruntime builds run a session
 * synchronously on the calling thread: onnxruntime-web's WASM (its `env.wasm.proxy` worker exists
 * only where there is a `document`, i.e. browsers: lib/wasm/proxy-wrapper.ts `isProxy()`), and
 * onnxruntime-node too (its `run` is a synchronous native call behind a setImmediate). A ViT-B/32
 * image is ~0.2–0.5 s of CPU, ViT-L/14 seconds; meanwhile a server on one thread answers nothing,
 * /healthz included, and a request's deadline cannot fire. Here the backends and every session of
 * one ClipEdge live in one worker thread (one ORT instance and one copy of each session, as
 * in-thread); the main thread sends the input tensors and gets the outputs back transferred.
 *
 * A run is never stopped: its inputs are fixed-size (one 224-px crop or 77 tokens per item), so its
 * cost is bounded by the model and the batch, and its batch may hold other requests' items. A
 * request past its deadline is answered 503 TIMEOUT by the main thread at the deadline; the run it
 * was part of finishes and its result is dropped.
 */

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

interface InferenceHost {
  call<T>(msg: DistributiveOmit<InferenceCall, 'id'>, transfer?: ArrayBuffer[], stream?: ModelStream): Promise<T>;
  memoryBytes(): number | undefined;
  close(): Promise<void>;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const errorOf = (e: SerializedError): Error =>
  // A plain Error stays plain, so that callers wrap it as before (a bad model file → MODEL_INVALID).
  e.code ? new ClipEdgeError(e.code as ClipEdgeErrorCode, e.message, e.details ? { details: e.details } : undefined) : new Error(e.message);

/** A copy of a view's bytes that owns its buffer (so the copy, not the caller's array, is what gets transferred). */
const owned = <T extends Uint8Array | Float32Array | BigInt64Array>(data: T): T => data.slice() as T;

/** The one thread of a set of threaded backends, started on first use. */
function createInferenceHost(options: NodeBackendOptions): InferenceHost {
  let worker: Worker | undefined;
  let ended: ClipEdgeError | undefined;
  let memory: number | undefined;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  const streams = new Map<number, AsyncGenerator<Uint8Array>>();
  const holds = threadHolds();
  /**
   * Calls made before the thread said it listens. Deno's worker_threads drop a message posted before
   * the thread's module has attached its listener (Node queues it): a cold start, with onnxruntime
   * still importing there, lost the first call and its caller waited for ever.
   */
  let outbox: [InferenceCall, ArrayBuffer[]][] | undefined = [];
  const post = (w: Worker, msg: InferenceCall, transfer: ArrayBuffer[]) => (outbox ? outbox.push([msg, transfer]) : w.postMessage(msg, transfer));

  const end = (w: Worker | undefined, why: string) => {
    if (worker !== w || ended) return;
    ended = new ClipEdgeError('INTERNAL', `the inference thread ended (${why}); its sessions are gone: restart the process (or run inference on the main thread: inferenceThread false, CLIP_EDGE_INFERENCE_THREAD=0)`);
    for (const p of pending.values()) p.reject(ended);
    pending.clear();
    for (const s of streams.values()) void s.return(undefined);
    streams.clear();
  };
  /** Sends the next piece of an in-place model stream (one at a time: the thread asks for each). */
  const feed = (w: Worker, stream: number) => {
    const it = streams.get(stream);
    const send = (c: StreamChunk, transfer: ArrayBuffer[] = []) => w.postMessage(c, transfer);
    if (!it) return send({ op: 'chunk', stream, error: 'the model stream was closed' });
    it.next().then(
      (r) => {
        if (r.done) return send({ op: 'chunk', stream });
        const data = owned(r.value);
        send({ op: 'chunk', stream, data }, [data.buffer as ArrayBuffer]);
      },
      (e: unknown) => send({ op: 'chunk', stream, error: e instanceof Error ? e.message : String(e) }),
    );
  };
  const start = (): Worker => {
    const w = startModuleThread('inference-worker', options);
    w.on('message', (reply: InferenceReply) => {
      if ('listening' in reply) {
        const queued = outbox ?? [];
        outbox = undefined;
        for (const [msg, transfer] of queued) w.postMessage(msg, transfer);
        return;
      }
      if ('pull' in reply) return feed(w, reply.pull);
      const p = pending.get(reply.id);
      pending.delete(reply.id);
      if (reply.ok && reply.memoryBytes !== undefined) memory = reply.memoryBytes;
      if (reply.ok) p?.resolve(reply.value);
      else p?.reject(errorOf(reply.error));
    });
    w.on('error', (e) => end(w, e.message));
    w.on('exit', (code) => end(w, `exit code ${code}`));
    w.unref(); // after the listeners: adding one refs the port again
    return w;
  };

  return {
    call<T>(msg: DistributiveOmit<InferenceCall, 'id'>, transfer: ArrayBuffer[] = [], stream?: ModelStream): Promise<T> {
      if (ended) return Promise.reject(ended);
      const w = (worker ??= start());
      const id = nextId++;
      if (stream) streams.set(id, chunksOf(stream.body));
      holds.hold(w);
      return new Promise<T>((resolve, reject) => {
        const settle = () => {
          holds.letGo(w);
          void streams.get(id)?.return(undefined); // closes the file when the thread stopped reading early
          streams.delete(id);
        };
        pending.set(id, { resolve: (v) => (settle(), resolve(v as T)), reject: (e) => (settle(), reject(e)) });
        post(w, { ...msg, id } as InferenceCall, transfer);
      });
    },
    memoryBytes: () => memory,
    async close() {
      const w = worker;
      if (ended) return;
      end(w, 'closed'); // also when the thread never started: later calls are refused, never start one
      await w?.terminate();
    },
  };
}

/** A session in the inference thread, as the main thread sees it. */
function remoteSession(host: InferenceHost, meta: SessionMeta): SessionLike & { sha256?: string } {
  return {
    inputNames: meta.inputNames,
    outputNames: meta.outputNames,
    ...(meta.inputMetadata ? { inputMetadata: meta.inputMetadata } : {}),
    ...(meta.outputMetadata ? { outputMetadata: meta.outputMetadata } : {}),
    ...(meta.sha256 ? { sha256: meta.sha256 } : {}),
    async run(feeds: Record<string, TensorLike>, fetches?: readonly string[]) {
      // The inputs are copied (one 224-px crop is 0.6 MB: ~0.1 ms), never taken from the caller.
      const plain: Record<string, PlainTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [name, t] of Object.entries(feeds)) {
        const data = owned(t.data as Float32Array | BigInt64Array);
        plain[name] = { type: t.type, data, dims: [...t.dims] };
        transfer.push(data.buffer as ArrayBuffer);
      }
      return host.call<Record<string, PlainTensor>>({ op: 'run', session: meta.session, feeds: plain, ...(fetches ? { fetches } : {}) }, transfer);
    },
    release: () => host.call<void>({ op: 'release', session: meta.session }),
  };
}

/** `inner`'s name, priority and variants, its work done in the host's thread. */
function threadedBackend(host: InferenceHost, inner: Backend, name: ThreadedBackendName): Backend {
  return {
    name: inner.name,
    priority: inner.priority,
    preferred: inner.preferred,
    init: () => host.call<unknown>({ op: 'init', backend: name }).then(() => undefined),
    async createSession(model: Uint8Array, options?: { take?: boolean }) {
      // Moved, not copied, when the caller gives it up and the array owns its buffer (a model file
      // read whole by fsModelSource: the tower drops it once the session exists), so that loading
      // holds no second copy of a 350 MB file. An array its source keeps (memorySource), or a view
      // into a larger buffer, is copied first.
      const whole = options?.take === true && model.byteOffset === 0 && model.byteLength === model.buffer.byteLength && model.buffer instanceof ArrayBuffer;
      const data = whole ? model : owned(model);
      return remoteSession(host, await host.call<SessionMeta>({ op: 'create', backend: name, model: data }, [data.buffer as ArrayBuffer]));
    },
    ...(inner.inPlace
      ? {
          inPlace: {
            createSession: async (model: ModelStream, options: InPlaceSessionOptions) =>
              remoteSession(host, await host.call<SessionMeta>({ op: 'createInPlace', backend: name, size: model.size, options }, [], model)),
            memoryBytes: () => host.memoryBytes(),
          },
        }
      : {}),
    tensor: ((type: string, data: TensorLike['data'], dims: readonly number[]): TensorLike => ({ type, data, dims })) as Backend['tensor'],
    close: () => host.close(),
  };
}

/**
 * {@link defaultNodeBackends} (onnxruntime-node when installed, then WASM), both run in one worker
 * thread that they share: inference never holds the event loop. The thread starts with the first
 * backend's `init()` and ends with `close()` (ClipEdge's close calls it).
 */
export function threadedNodeBackends(options: NodeBackendOptions = {}): Backend[] {
  const host = createInferenceHost(options);
  return [threadedBackend(host, nativeBackend(options), 'node'), threadedBackend(host, wasmBackend(options), 'wasm')];
}
