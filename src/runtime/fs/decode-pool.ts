import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { throwIfAborted } from '../../core/abort.ts';
import { ClipEdgeError, type ClipEdgeErrorCode } from '../../core/errors.ts';
import type { ClipCrop, DecodeExecutor } from '../../core/image/decoder.ts';
import type { ClipPreprocessConfig } from '../../core/image/preprocess.ts';
import type { RgbImage } from '../../core/image/types.ts';
import type { DecodeJob, DecodeReply } from './decode-worker.ts';
import { startModuleThread } from './module-thread.ts';

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

/** How long an aborted decode may go on before its thread is ended (see run()). */
export const ABORT_GRACE_MS = 250;

export const defaultDecodeThreads = (): number => Math.max(1, Math.min(4, availableParallelism() - 1));

/** A pool of decode threads as a {@link DecodeExecutor}; `close()` ends the threads. */
export function createDecodePool(options: DecodePoolOptions): DecodeExecutor & { close(): Promise<void>; readonly threads: number } {
  const threads = options.threads ?? defaultDecodeThreads();
  if (!Number.isSafeInteger(threads) || threads < 1) throw new ClipEdgeError('BAD_INPUT', `decode threads must be a positive integer, got ${String(options.threads)}`);
  const data = { maxPixels: options.maxPixels, maxJpegScans: options.maxJpegScans ?? 100, maxPixelsPerByte: options.maxPixelsPerByte ?? 1024, jpegTurbo: options.jpegTurbo ?? true };
  const slots: Slot[] = Array.from({ length: threads }, () => ({ worker: null, ready: false, readyWaiters: [], busy: false }));
  const waiting: (() => void)[] = [];
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let closed = false;

  const spawn = (slot: Slot): Worker => {
    const w = startModuleThread('decode-worker', data);
    slot.worker = w;
    slot.ready = false;
    w.on('message', (reply: DecodeReply | { ready: true }) => {
      if ('id' in reply) return settle(reply);
      if (slot.worker !== w) return;
      slot.ready = true;
      for (const wake of slot.readyWaiters.splice(0)) wake();
    });
    w.on('error', (e) => endThread(slot, w, e));
    w.on('exit', (code) => endThread(slot, w, new Error(`decode thread exited (${code})`)));
    // An idle thread never keeps the process alive; one with work (or being waited for) does: see
    // hold(). After the listeners: adding a 'message' listener refs the worker's port again (a CLI
    // that had decoded one image then never exited).
    w.unref();
    return w;
  };
  const holds = new Map<Worker, number>();
  /** Keeps the process alive while someone waits on `w` (a job in it, or its start-up). */
  const hold = (w: Worker) => {
    holds.set(w, (holds.get(w) ?? 0) + 1);
    w.ref();
  };
  const letGo = (w: Worker) => {
    const n = (holds.get(w) ?? 1) - 1;
    if (n > 0) return void holds.set(w, n);
    holds.delete(w);
    w.unref();
  };
  /** A thread ended (crashed, or terminated on an abort): its jobs fail, and the slot gets a fresh thread at once. */
  const endThread = (slot: Slot, w: Worker, e: unknown) => {
    for (const [id, p] of pending) {
      if (p.worker !== w) continue;
      pending.delete(id);
      p.reject(new ClipEdgeError('INTERNAL', `image decode thread failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
    }
    if (slot.worker !== w) return;
    const wasReady = slot.ready;
    slot.worker = null;
    slot.ready = false;
    for (const wake of slot.readyWaiters.splice(0)) wake(); // they find the thread gone
    // Started now, so that the next job does not pay for it under its own deadline (not when it
    // died starting: the next job tries again and reports why).
    if (wasReady && !closed) spawn(slot);
  };
  const settle = (reply: DecodeReply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.value);
    else p.reject(reply.error.code ? new ClipEdgeError(reply.error.code as ClipEdgeErrorCode, reply.error.message, reply.error.details ? { details: reply.error.details } : undefined) : new ClipEdgeError('INTERNAL', reply.error.message));
  };

  /** Resolves when `register` is called back, or at once when the signal aborts (then the caller re-checks). */
  const waitFor = (register: (wake: () => void) => void, unregister: (wake: () => void) => void, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        signal?.removeEventListener('abort', leave);
        resolve();
      };
      const leave = () => {
        unregister(wake);
        resolve();
      };
      signal?.addEventListener('abort', leave, { once: true });
      register(wake);
    });
  const remove = (list: (() => void)[]) => (wake: () => void) => {
    const i = list.indexOf(wake);
    if (i >= 0) list.splice(i, 1);
  };

  const acquire = async (signal?: AbortSignal): Promise<Slot> => {
    for (;;) {
      throwIfAborted(signal);
      const free = slots.find((s) => !s.busy);
      if (free) {
        free.busy = true;
        return free;
      }
      await waitFor((w) => waiting.push(w), remove(waiting), signal);
    }
  };
  const release = (slot: Slot) => {
    slot.busy = false;
    waiting.shift()?.();
  };

  async function run<T>(job: Omit<DecodeJob, 'id'>, signal?: AbortSignal): Promise<T> {
    const slot = await acquire(signal);
    let handedOff = false; // once the job is in a thread, the slot comes back when the thread is done with it
    try {
      // After close() no thread is started again (nothing would end it).
      if (closed) throw new ClipEdgeError('INTERNAL', 'the image decode threads were closed');
      const worker = slot.worker ?? spawn(slot);
      hold(worker);
      // A thread still starting is never ended on an abort (its replacement would start over, and
      // a deadline shorter than a start-up would never see a decode): wait for it here instead.
      let settled = false;
      const free = () => {
        if (settled) return;
        settled = true;
        letGo(worker);
        release(slot);
      };
      try {
        if (!slot.ready) await waitFor((w) => slot.readyWaiters.push(w), remove(slot.readyWaiters), signal);
        throwIfAborted(signal);
        if (slot.worker !== worker) throw new ClipEdgeError('INTERNAL', 'an image decode thread could not start (see the server log)');
      } catch (e) {
        letGo(worker);
        throw e;
      }
      const id = nextId++;
      handedOff = true;
      return await new Promise<T>((resolve, reject) => {
        const onAbort = () => {
          // The caller has its answer now. The decode: a short one is let finish (its result
          // dropped: ending a thread costs a new one's start-up, ~0.1–0.4 s of CPU), one still at
          // work after ABORT_GRACE_MS is stopped where it is and its thread replaced.
          try {
            throwIfAborted(signal);
          } catch (e) {
            reject(e);
          }
          const stop = setTimeout(() => {
            if (!pending.delete(id)) return;
            if (slot.worker === worker && !closed) spawn(slot); // the ended thread's exit then finds the slot taken
            void worker.terminate();
            free();
          }, ABORT_GRACE_MS);
          stop.unref();
          pending.set(id, { resolve: () => (clearTimeout(stop), free()), reject: () => (clearTimeout(stop), free()), worker });
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        const done = () => signal?.removeEventListener('abort', onAbort);
        pending.set(id, { resolve: (v) => (done(), free(), resolve(v as T)), reject: (e) => (done(), free(), reject(e)), worker });
        worker.postMessage({ id, ...job } satisfies DecodeJob);
      });
    } finally {
      if (!handedOff) release(slot);
    }
  }

  return {
    threads,
    decodeForClip: (bytes: Uint8Array, config: ClipPreprocessConfig, signal?: AbortSignal) => run<ClipCrop>({ bytes, config: plainConfig(config) }, signal),
    decode: (bytes: Uint8Array, signal?: AbortSignal) => run<RgbImage>({ bytes }, signal),
    async warmup() {
      await Promise.all(
        slots.map(async (s) => {
          const w = s.worker ?? spawn(s);
          if (s.ready) return;
          hold(w);
          try {
            await waitFor((wake) => s.readyWaiters.push(wake), remove(s.readyWaiters));
          } finally {
            letGo(w);
          }
        }),
      );
    },
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s.worker?.terminate()));
      for (const s of slots) s.worker = null;
    },
  };
}

/** A config as plain data (frozen arrays clone fine, but a class instance would not). */
const plainConfig = (c: ClipPreprocessConfig): ClipPreprocessConfig => ({
  shortestEdge: c.shortestEdge,
  cropHeight: c.cropHeight,
  cropWidth: c.cropWidth,
  mean: [c.mean[0], c.mean[1], c.mean[2]],
  std: [c.std[0], c.std[1], c.std[2]],
});
