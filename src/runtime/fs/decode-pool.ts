import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { throwIfAborted } from '../../core/abort.ts';
import { ClipEdgeError, type ClipEdgeErrorCode } from '../../core/errors.ts';
import type { ClipCrop, DecodeExecutor } from '../../core/image/decoder.ts';
import type { JpegScale } from '../../core/image/jpeg-turbo.ts';
import type { ClipPreprocessConfig } from '../../core/image/preprocess.ts';
import type { RgbImage } from '../../core/image/types.ts';
import type { DecodeJob, DecodeReply } from './decode-worker.ts';
import { startModuleThread } from './module-thread.ts';
import { checkThreadNice } from './thread-priority.ts';

/*
 * Image decodes off the event loop (Node). A decode is one synchronous wasm or JS call of up to
 * seconds (a 40 MP PNG through fast-png ~10 s), during which a server on one thread answers
 * nothing, /healthz included, and a decode past its deadline cannot be stopped. Measured before
 * choosing this: the hostile-image probes held /healthz for the whole decode (bench/results/
 * hostile-images.md). Here each decode runs in a worker thread; the main thread only checks the
 * header and reserves the decode budget (decoder.ts), and a decode whose request is aborted (its
 * deadline) has its thread terminated, so the CPU it was burning comes back at once. A terminated
 * thread is replaced on the next job. Bytes are copied to the thread (bounded by the body limit);
 * the 224-px crop comes back transferred.
 */

export interface DecodePoolOptions {
  /** Decode threads. @defaultValue max(1, min(4, availableParallelism() - 1)) */
  readonly threads?: number;
  /** The decoder checks the threads repeat (the main thread has applied them already). */
  readonly maxPixels: number;
  readonly maxJpegScans?: number;
  readonly maxPixelsPerByte?: number;
  /** Decode JPEG row by row with the package's libjpeg-turbo; `false`: whole, with mozjpeg. @defaultValue true */
  readonly jpegTurbo?: boolean;
  /** Nice steps below the event loop for the decode threads, 0–19 (Linux; thread-priority.ts). @defaultValue 0 */
  readonly threadNice?: number;
}

interface Slot {
  worker: Worker | null;
  /** Whether the thread has loaded its decoder (its first message): only then is it ended on an abort. */
  ready: boolean;
  readyWaiters: (() => void)[];
  busy: boolean;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  /** The thread the job was sent to (a slot's thread may be replaced while an ended one still reports its exit). */
  worker: Worker;
}

/** How long an aborted decode may go on before its thread is ended (see abandon()). */
export const ABORT_GRACE_MS = 250;

export const defaultDecodeThreads = (): number => Math.max(1, Math.min(4, availableParallelism() - 1));

/** One pool's state, shared by the functions below (each does one thing to it). */
interface Pool {
  readonly data: DecodeWorkerData;
  readonly slots: Slot[];
  /** Jobs waiting for a slot, first come first served: a slot that comes back is handed to the first. */
  readonly waiting: ((slot: Slot) => void)[];
  readonly pending: Map<number, Pending>;
  /** How many waiters each thread has (see hold()). */
  readonly holds: Map<Worker, number>;
  nextId: number;
  closed: boolean;
}

type DecodeWorkerData = { maxPixels: number; maxJpegScans: number; maxPixelsPerByte: number; jpegTurbo: boolean; threadNice: number };

/** A pool of decode threads as a {@link DecodeExecutor}; `close()` ends the threads. */
export function createDecodePool(options: DecodePoolOptions): DecodeExecutor & { close(): Promise<void>; readonly threads: number } {
  const threads = options.threads ?? defaultDecodeThreads();
  if (!Number.isSafeInteger(threads) || threads < 1) throw new ClipEdgeError('BAD_INPUT', `decode threads must be a positive integer, got ${String(options.threads)}`);
  const pool: Pool = {
    data: { maxPixels: options.maxPixels, maxJpegScans: options.maxJpegScans ?? 100, maxPixelsPerByte: options.maxPixelsPerByte ?? 1024, jpegTurbo: options.jpegTurbo ?? true, threadNice: checkThreadNice(options.threadNice) },
    slots: Array.from({ length: threads }, () => ({ worker: null, ready: false, readyWaiters: [], busy: false })),
    waiting: [],
    pending: new Map(),
    holds: new Map(),
    nextId: 1,
    closed: false,
  };
  return {
    threads,
    decodeForClip: (bytes: Uint8Array, config: ClipPreprocessConfig, signal?: AbortSignal, plan?: { readonly jpegScale: JpegScale }) =>
      run<ClipCrop>(pool, { bytes, config: plainConfig(config), jpegScale: plan?.jpegScale ?? 1 }, signal),
    decode: (bytes: Uint8Array, signal?: AbortSignal) => run<RgbImage>(pool, { bytes }, signal),
    warmup: () => warmup(pool),
    async close() {
      pool.closed = true;
      await Promise.all(pool.slots.map((s) => s.worker?.terminate()));
      for (const s of pool.slots) s.worker = null;
    },
  };
}

/** Starts a thread in `slot`; its replies settle jobs, its first message marks it ready. */
function spawn(pool: Pool, slot: Slot): Worker {
  const w = startModuleThread('decode-worker', pool.data);
  slot.worker = w;
  slot.ready = false;
  w.on('message', (reply: DecodeReply | { ready: true }) => {
    if ('id' in reply) return settle(pool, reply);
    if (slot.worker !== w) return;
    slot.ready = true;
    for (const wake of slot.readyWaiters.splice(0)) wake();
  });
  w.on('error', (e) => endThread(pool, slot, w, e));
  w.on('exit', (code) => endThread(pool, slot, w, new Error(`decode thread exited (${code})`)));
  // An idle thread never keeps the process alive; one with work (or being waited for) does: see
  // hold(). After the listeners: adding a 'message' listener refs the worker's port again (a CLI
  // that had decoded one image then never exited).
  w.unref();
  return w;
}

/** Keeps the process alive while someone waits on `w` (a job in it, or its start-up). */
function hold(pool: Pool, w: Worker): void {
  pool.holds.set(w, (pool.holds.get(w) ?? 0) + 1);
  w.ref();
}

function letGo(pool: Pool, w: Worker): void {
  const n = (pool.holds.get(w) ?? 1) - 1;
  if (n > 0) return void pool.holds.set(w, n);
  pool.holds.delete(w);
  w.unref();
}

/** A thread ended (crashed, or terminated on an abort): its jobs fail, and the slot gets a fresh thread at once. */
function endThread(pool: Pool, slot: Slot, w: Worker, e: unknown): void {
  for (const [id, p] of pool.pending) {
    if (p.worker !== w) continue;
    pool.pending.delete(id);
    p.reject(new ClipEdgeError('INTERNAL', `image decode thread failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
  }
  if (slot.worker !== w) return;
  const wasReady = slot.ready;
  slot.worker = null;
  slot.ready = false;
  for (const wake of slot.readyWaiters.splice(0)) wake(); // they find the thread gone
  // Started now, so that the next job does not pay for it under its own deadline (not when it
  // died starting: the next job tries again and reports why).
  if (wasReady && !pool.closed) spawn(pool, slot);
}

/** A thread's answer to job `reply.id`: its value, or its error as the ClipEdgeError it was. */
function settle(pool: Pool, reply: DecodeReply): void {
  const p = pool.pending.get(reply.id);
  if (!p) return;
  pool.pending.delete(reply.id);
  if (reply.ok) p.resolve(reply.value);
  else p.reject(reply.error.code ? new ClipEdgeError(reply.error.code as ClipEdgeErrorCode, reply.error.message, reply.error.details ? { details: reply.error.details } : undefined) : new ClipEdgeError('INTERNAL', reply.error.message));
}

/** Resolves when `wake` is called back from `list`, or at once when the signal aborts (then the caller re-checks). */
function waitIn(list: (() => void)[], signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const wake = () => {
      signal?.removeEventListener('abort', leave);
      resolve();
    };
    const leave = () => {
      const i = list.indexOf(wake);
      if (i >= 0) list.splice(i, 1);
      resolve();
    };
    signal?.addEventListener('abort', leave, { once: true });
    list.push(wake);
  });
}

/**
 * A free slot, marked busy; waits its turn while all are busy. First come first served: a slot
 * that comes back goes straight to the first waiter (still busy), so a job arriving meanwhile
 * cannot take it and send the woken waiter to the back of the queue.
 */
function acquire(pool: Pool, signal?: AbortSignal): Promise<Slot> {
  throwIfAborted(signal);
  // While anyone waits every slot is busy (release() hands slots on): a newcomer queues behind them.
  const free = pool.waiting.length === 0 ? pool.slots.find((s) => !s.busy) : undefined;
  if (free) {
    free.busy = true;
    return Promise.resolve(free);
  }
  return new Promise<Slot>((resolve, reject) => {
    const take = (slot: Slot) => {
      signal?.removeEventListener('abort', leave);
      resolve(slot);
    };
    const leave = () => {
      const i = pool.waiting.indexOf(take);
      if (i >= 0) pool.waiting.splice(i, 1);
      try {
        throwIfAborted(signal);
      } catch (e) {
        reject(e);
      }
    };
    signal?.addEventListener('abort', leave, { once: true });
    pool.waiting.push(take);
  });
}

/** A slot is done with: handed to the first waiter, or free. */
function release(pool: Pool, slot: Slot): void {
  const next = pool.waiting.shift();
  if (next) next(slot);
  else slot.busy = false;
}

/** One decode in a thread: a slot, a started thread, the job, its answer (or its abort). */
async function run<T>(pool: Pool, job: Omit<DecodeJob, 'id'>, signal?: AbortSignal): Promise<T> {
  const slot = await acquire(pool, signal);
  let handedOff = false; // once the job is in a thread, the slot comes back when the thread is done with it
  try {
    // After close() no thread is started again (nothing would end it).
    if (pool.closed) throw new ClipEdgeError('INTERNAL', 'the image decode threads were closed');
    const worker = await readyThread(pool, slot, signal);
    handedOff = true;
    return await sendJob<T>(pool, slot, worker, job, signal);
  } finally {
    if (!handedOff) release(pool, slot);
  }
}

/**
 * The slot's thread once it has loaded its decoder, held (see hold()). A thread still starting is
 * never ended on an abort (its replacement would start over, and a deadline shorter than a
 * start-up would never see a decode): the job waits for it here instead.
 */
async function readyThread(pool: Pool, slot: Slot, signal?: AbortSignal): Promise<Worker> {
  const worker = slot.worker ?? spawn(pool, slot);
  hold(pool, worker);
  try {
    if (!slot.ready) await waitIn(slot.readyWaiters, signal);
    throwIfAborted(signal);
    if (slot.worker !== worker) throw new ClipEdgeError('INTERNAL', 'an image decode thread could not start (see the server log)');
    return worker;
  } catch (e) {
    letGo(pool, worker);
    throw e;
  }
}

/** Posts the job to a ready, held thread; the slot and the hold come back when the thread is done with it. */
function sendJob<T>(pool: Pool, slot: Slot, worker: Worker, job: Omit<DecodeJob, 'id'>, signal?: AbortSignal): Promise<T> {
  let settled = false;
  const free = () => {
    if (settled) return;
    settled = true;
    letGo(pool, worker);
    release(pool, slot);
  };
  const id = pool.nextId++;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => abandon(pool, { id, slot, worker, free, reject }, signal);
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    pool.pending.set(id, { resolve: (v) => (done(), free(), resolve(v as T)), reject: (e) => (done(), free(), reject(e)), worker });
    worker.postMessage({ id, ...job } satisfies DecodeJob);
  });
}

/**
 * An aborted job: the caller has its answer now. The decode: a short one is let finish (its result
 * dropped: ending a thread costs a new one's start-up, ~0.1–0.4 s of CPU), one still at work after
 * ABORT_GRACE_MS is stopped where it is and its thread replaced.
 */
function abandon(pool: Pool, job: { id: number; slot: Slot; worker: Worker; free: () => void; reject: (e: unknown) => void }, signal?: AbortSignal): void {
  const { id, slot, worker, free } = job;
  try {
    throwIfAborted(signal);
  } catch (e) {
    job.reject(e);
  }
  const stop = setTimeout(() => {
    if (!pool.pending.delete(id)) return;
    if (slot.worker === worker && !pool.closed) spawn(pool, slot); // the ended thread's exit then finds the slot taken
    void worker.terminate();
    free();
  }, ABORT_GRACE_MS);
  stop.unref();
  pool.pending.set(id, { resolve: () => (clearTimeout(stop), free()), reject: () => (clearTimeout(stop), free()), worker });
}

/** Starts every thread and waits until each has loaded its decoder. */
async function warmup(pool: Pool): Promise<void> {
  // As in run(): after close() no thread is started again (nothing would end it).
  if (pool.closed) throw new ClipEdgeError('INTERNAL', 'the image decode threads were closed');
  await Promise.all(
    pool.slots.map(async (s) => {
      const w = s.worker ?? spawn(pool, s);
      if (s.ready) return;
      hold(pool, w);
      try {
        await waitIn(s.readyWaiters);
      } finally {
        letGo(pool, w);
      }
    }),
  );
}

/** A config as plain data (frozen arrays clone fine, but a class instance would not). */
const plainConfig = (c: ClipPreprocessConfig): ClipPreprocessConfig => ({
  shortestEdge: c.shortestEdge,
  cropHeight: c.cropHeight,
  cropWidth: c.cropWidth,
  mean: [c.mean[0], c.mean[1], c.mean[2]],
  std: [c.std[0], c.std[1], c.std[2]],
});
