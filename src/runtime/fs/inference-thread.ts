import type { Worker } from 'node:worker_threads';
import type { Backend, InPlaceSessionOptions, SessionLike, TensorLike } from '../../core/backend.ts';
import { ClipEdgeError, type ClipEdgeErrorCode } from '../../core/errors.ts';
import type { ModelStream } from '../../core/model/source.ts';
import { chunksOf } from '../../core/ort/wasm/in-place.ts';
import type { InferenceCall, InferenceReply, InferenceWorkerData, PlainTensor, SerializedError, SessionMeta, StreamChunk, ThreadedBackendName } from './inference-worker.ts';
import { startModuleThread, threadHolds } from './module-thread.ts';
import { nativeBackend, type NodeBackendOptions, wasmBackend } from './ort.ts';
import { restartPolicy, type RestartOptions } from './restart-policy.ts';
import { checkThreadNice } from './thread-priority.ts';

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
 *
 * A crash of the thread (a native abort in onnxruntime, out of memory, an uncaught error) loses
 * every session in it. The calls it had fail with 503 BACKEND_UNAVAILABLE; the next call starts a
 * new thread (after a back-off that doubles per crash: restart-policy.ts) and the towers re-create
 * their sessions from the same sources (their remote sessions report `lost`). After `maxCrashes`
 * crashes in `windowMs` it stays down: every call fails with a clear error until the process restarts.
 */

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** Which thread answers a call: any (starting one when none runs), or only the one a session lives in. */
interface CallOptions {
  readonly transfer?: ArrayBuffer[];
  readonly stream?: ModelStream;
  /** The call belongs to this thread generation's session: refused once that thread has crashed. */
  readonly generation?: number;
}

interface InferenceHost {
  call<T>(msg: DistributiveOmit<InferenceCall, 'id'>, options?: CallOptions): Promise<{ value: T; generation: number }>;
  /** Bumped on every crash: a session made in an earlier generation is gone. */
  readonly generation: number;
  /** The error calls fail with once the thread crashed too often and stays down (not set by close()). */
  readonly down: ClipEdgeError | undefined;
  /** Crashed, and no new thread runs yet (Backend.restarting). */
  readonly restarting: { readonly retryAfterMs: number } | undefined;
  memoryBytes(): number | undefined;
  close(): Promise<void>;
}

/** Options of {@link threadedNodeBackends}. */
export interface ThreadedBackendOptions extends NodeBackendOptions {
  /** When a crashed inference thread is started again (bounded, with back-off). @defaultValue {@link restartPolicy}'s defaults: 5 crashes in 60 s, 250 ms doubling to 8 s */
  readonly restarts?: RestartOptions;
  /** Where a crash is reported (one line). @defaultValue console.error */
  readonly log?: (line: string) => void;
  /** Nice steps below the event loop for the inference thread and onnxruntime's threads, 0–19 (Linux; thread-priority.ts). @defaultValue 0 */
  readonly threadNice?: number;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const errorOf = (e: SerializedError): Error =>
  // A plain Error stays plain, so that callers wrap it as before (a bad model file → MODEL_INVALID).
  e.code ? new ClipEdgeError(e.code as ClipEdgeErrorCode, e.message, e.details ? { details: e.details } : undefined) : new Error(e.message);

/** A copy of a view's bytes that owns its buffer (so the copy, not the caller's array, is what gets transferred). */
const owned = <T extends Uint8Array | Float32Array | BigInt64Array>(data: T): T => data.slice() as T;

/** One started thread: a crash ends it, and the next call starts the next generation. */
interface Thread {
  readonly worker: Worker;
  readonly generation: number;
  /**
   * Calls made before the thread said it listens. Deno's worker_threads drop a message posted before
   * the thread's module has attached its listener (Node queues it): a cold start, with onnxruntime
   * still importing there, lost the first call and its caller waited for ever.
   */
  outbox?: [InferenceCall, ArrayBuffer[]][];
}

/** The state of one host, shared by the functions below. */
interface Host {
  readonly options: InferenceWorkerData;
  readonly policy: ReturnType<typeof restartPolicy>;
  readonly log: (line: string) => void;
  readonly pending: Map<number, Pending>;
  readonly streams: Map<number, AsyncGenerator<Uint8Array>>;
  readonly holds: ReturnType<typeof threadHolds>;
  /** The thread calls go to: started (or waiting out a back-off) on the first call after a crash. */
  thread?: Promise<Thread>;
  live?: Thread;
  generation: number;
  /** No thread is ever started again: closed, or it crashed too often. */
  ended?: ClipEdgeError;
  /** It crashed too often (`ended` then says so). */
  gaveUp?: boolean;
  /** Not restarted before this time (Date.now()): the back-off after a crash. */
  restartAt: number;
  /** The back-off timer calls are waiting on, and what ends the wait early (close()). */
  backoff?: { timer: ReturnType<typeof setTimeout>; end(): void };
  memory?: number;
  nextId: number;
}

/** Fails every call the thread had, and stops feeding it model streams. */
function failPending(h: Host, error: ClipEdgeError): void {
  const calls = [...h.pending.values()];
  h.pending.clear();
  for (const p of calls) p.reject(error);
  for (const s of h.streams.values()) void s.return(undefined);
  h.streams.clear();
}

/**
 * The thread died (an uncaught error, a native abort, out of memory, terminated): its calls fail
 * with 503 BACKEND_UNAVAILABLE now, its sessions are gone (each remote session reports `lost`, and
 * its tower re-creates it from its source on the next run), and the next call starts a new thread
 * after the back-off, unless it crashed too often (restartPolicy): then it stays down.
 */
function crashed(h: Host, t: Thread, why: string): void {
  if (h.live !== t || h.ended) return;
  h.live = undefined;
  h.thread = undefined;
  h.memory = undefined;
  h.generation++;
  const verdict = h.policy.crashed();
  const { maxCrashes, windowMs } = h.policy.options;
  const failed = h.pending.size;
  if (verdict.giveUp) {
    h.gaveUp = true;
    h.ended = new ClipEdgeError('BACKEND_UNAVAILABLE', `the inference thread crashed ${verdict.crashes} times in ${windowMs / 1000} s (last: ${why}) and is not restarted again: restart the process`);
    failPending(h, h.ended);
    h.log(`[clip-edge] the inference thread crashed (${why}), ${verdict.crashes} times in ${windowMs / 1000} s: not restarted again; inference fails until the process restarts`);
    return;
  }
  h.restartAt = Date.now() + verdict.delayMs;
  // Retry-After (app.onError): a retry before the back-off is over would wait it out anyway.
  const details = { crash: verdict.crashes, retryAfterSeconds: Math.max(1, Math.ceil(verdict.delayMs / 1000)) };
  failPending(h, new ClipEdgeError('BACKEND_UNAVAILABLE', `the inference thread crashed (${why}) while this call ran; it is restarted for later calls`, { details }));
  h.log(`[clip-edge] the inference thread crashed (${why}); ${failed} call(s) failed with 503; restarting it on the next call, after ${verdict.delayMs} ms (crash ${verdict.crashes} of ${maxCrashes} allowed in ${windowMs / 1000} s)`);
}

/** Sends the next piece of an in-place model stream (one at a time: the thread asks for each). */
function feed(h: Host, w: Worker, stream: number): void {
  const it = h.streams.get(stream);
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
}

function onReply(h: Host, t: Thread, reply: InferenceReply): void {
  if ('listening' in reply) {
    const queued = t.outbox ?? [];
    t.outbox = undefined;
    for (const [msg, transfer] of queued) t.worker.postMessage(msg, transfer);
    return;
  }
  if ('pull' in reply) return feed(h, t.worker, reply.pull);
  const p = h.pending.get(reply.id);
  h.pending.delete(reply.id);
  if (reply.ok && reply.memoryBytes !== undefined) h.memory = reply.memoryBytes;
  if (reply.ok) p?.resolve(reply.value);
  else p?.reject(errorOf(reply.error));
}

function startThread(h: Host): Thread {
  const t: Thread = { worker: startModuleThread('inference-worker', h.options), generation: h.generation, outbox: [] };
  t.worker.on('message', (reply: InferenceReply) => onReply(h, t, reply));
  t.worker.on('error', (e) => crashed(h, t, e.message));
  t.worker.on('exit', (code) => crashed(h, t, `exit code ${code}`));
  t.worker.unref(); // after the listeners: adding one refs the port again
  h.live = t;
  return t;
}

/** The thread to call: the running one, or a new one once the back-off after a crash is over. */
function threadOf(h: Host): Promise<Thread> {
  if (h.thread) return h.thread;
  const wait = h.restartAt - Date.now();
  const start = () => {
    if (h.ended) throw h.ended; // closed during the back-off
    return startThread(h);
  };
  const started = wait > 0 ? backoff(h, wait).then(start) : Promise.resolve(start());
  h.thread = started;
  return started;
}

/** Waits `ms` (the back-off), or less when close() ends the wait: the calls waiting then fail at once. */
function backoff(h: Host, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const end = () => {
      clearTimeout(timer);
      h.backoff = undefined;
      resolve();
    };
    const timer = setTimeout(end, ms);
    h.backoff = { timer, end };
  });
}

async function callIn<T>(h: Host, msg: DistributiveOmit<InferenceCall, 'id'>, o: CallOptions): Promise<{ value: T; generation: number }> {
  if (o.generation !== undefined && o.generation !== h.generation) throw lostSession();
  if (h.ended) throw h.ended;
  const t = await threadOf(h);
  // Closed, crashed or gave up while this call waited for the thread to start.
  if (h.ended) throw h.ended;
  if (h.live !== t || (o.generation !== undefined && o.generation !== t.generation)) throw lostSession();
  const id = h.nextId++;
  if (o.stream) h.streams.set(id, chunksOf(o.stream.body));
  h.holds.hold(t.worker);
  const value = await new Promise<T>((resolve, reject) => {
    const settle = () => {
      h.holds.letGo(t.worker);
      void h.streams.get(id)?.return(undefined); // closes the file when the thread stopped reading early
      h.streams.delete(id);
    };
    h.pending.set(id, { resolve: (v) => (settle(), resolve(v as T)), reject: (e) => (settle(), reject(e)) });
    const call = { ...msg, id } as InferenceCall;
    const transfer = o.transfer ?? [];
    if (t.outbox) t.outbox.push([call, transfer]);
    else t.worker.postMessage(call, transfer);
  });
  return { value, generation: t.generation };
}

const lostSession = () =>
  new ClipEdgeError('BACKEND_UNAVAILABLE', 'the inference thread crashed and was restarted: this session was in the thread that crashed (its tower re-creates it on the next run)', {
    details: { retryAfterSeconds: 1 },
  });

/** The one thread of a set of threaded backends, started on first use, restarted after a crash. */
function createInferenceHost(options: ThreadedBackendOptions): InferenceHost {
  const { restarts, log, threadNice, ...backendOptions } = options;
  const h: Host = {
    options: { ...backendOptions, threadNice: checkThreadNice(threadNice) },
    policy: restartPolicy(restarts),
    log: log ?? ((line) => console.error(line)),
    pending: new Map(),
    streams: new Map(),
    holds: threadHolds(),
    generation: 0,
    restartAt: 0,
    nextId: 1,
  };
  return {
    call: (msg, o = {}) => callIn(h, msg, o),
    get generation() {
      return h.generation;
    },
    get down() {
      return h.gaveUp ? h.ended : undefined;
    },
    get restarting() {
      // A thread that crashed (generation > 0) and none started since; not when closed or given up.
      if (h.live || h.ended || h.generation === 0) return undefined;
      return { retryAfterMs: Math.max(0, h.restartAt - Date.now()) };
    },
    memoryBytes: () => h.memory,
    async close() {
      if (h.ended) return;
      // Also when the thread never started: later calls are refused, never start one.
      h.ended = new ClipEdgeError('INTERNAL', 'the inference thread ended (closed); its sessions are gone: restart the process (or run inference on the main thread: inferenceThread false, CLIP_EDGE_INFERENCE_THREAD=0)');
      failPending(h, h.ended);
      h.backoff?.end(); // calls waiting out a restart's back-off fail now, and its timer no longer holds the process
      const t = h.live;
      h.live = undefined;
      await t?.worker.terminate();
    },
  };
}

/** A session in the inference thread, as the main thread sees it: `lost` once that thread has crashed. */
function remoteSession(host: InferenceHost, meta: SessionMeta, generation: number): SessionLike & { sha256?: string } {
  return {
    inputNames: meta.inputNames,
    outputNames: meta.outputNames,
    ...(meta.inputMetadata ? { inputMetadata: meta.inputMetadata } : {}),
    ...(meta.outputMetadata ? { outputMetadata: meta.outputMetadata } : {}),
    ...(meta.sha256 ? { sha256: meta.sha256 } : {}),
    get lost() {
      return host.generation !== generation;
    },
    async run(feeds: Record<string, TensorLike>, fetches?: readonly string[]) {
      // The inputs are copied (one 224-px crop is 0.6 MB: ~0.1 ms), never taken from the caller.
      const plain: Record<string, PlainTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [name, t] of Object.entries(feeds)) {
        const data = owned(t.data as Float32Array | BigInt64Array);
        plain[name] = { type: t.type, data, dims: [...t.dims] };
        transfer.push(data.buffer as ArrayBuffer);
      }
      const msg = { op: 'run', session: meta.session, feeds: plain, ...(fetches ? { fetches } : {}) } as const;
      return (await host.call<Record<string, PlainTensor>>(msg, { transfer, generation })).value;
    },
    // A session of a crashed thread is gone with it (and its number may name another session now).
    release: async () => {
      if (host.generation === generation) await host.call<void>({ op: 'release', session: meta.session }, { generation }).catch(() => undefined);
    },
  };
}

/** `inner`'s name, priority and variants, its work done in the host's thread. */
function threadedBackend(host: InferenceHost, inner: Backend, name: ThreadedBackendName): Backend {
  const created = ({ value, generation }: { value: SessionMeta; generation: number }) => remoteSession(host, value, generation);
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
      return created(await host.call<SessionMeta>({ op: 'create', backend: name, model: data }, { transfer: [data.buffer as ArrayBuffer] }));
    },
    ...(inner.inPlace
      ? {
          inPlace: {
            createSession: async (model: ModelStream, options: InPlaceSessionOptions) =>
              created(await host.call<SessionMeta>({ op: 'createInPlace', backend: name, size: model.size, options }, { stream: model })),
            memoryBytes: () => host.memoryBytes(),
          },
        }
      : {}),
    tensor: ((type: string, data: TensorLike['data'], dims: readonly number[]): TensorLike => ({ type, data, dims })) as Backend['tensor'],
    close: () => host.close(),
    get down() {
      return host.down;
    },
    get restarting() {
      return host.restarting;
    },
  };
}

/**
 * {@link defaultNodeBackends} (onnxruntime-node when installed, then WASM), both run in one worker
 * thread that they share: inference never holds the event loop. The thread starts with the first
 * backend's `init()` and ends with `close()` (ClipEdge's close calls it). A thread that crashes
 * fails the calls it had (503 BACKEND_UNAVAILABLE) and is started again on the next call, whose
 * towers re-create their sessions from their sources; bounded by `restarts`.
 */
export function threadedNodeBackends(options: ThreadedBackendOptions = {}): Backend[] {
  const host = createInferenceHost(options);
  return [threadedBackend(host, nativeBackend(options), 'node'), threadedBackend(host, wasmBackend(options), 'wasm')];
}
