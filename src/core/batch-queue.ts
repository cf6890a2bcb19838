import { ClipEdgeError } from './errors.ts';
import { BATCH } from './limits.ts';

export interface BatchQueueOptions {
  /** Most items in one run. @defaultValue 16 */
  maxBatch?: number;
  /** Items allowed to wait; beyond it `push` fails with OVERLOADED. @defaultValue Infinity */
  maxQueue?: number;
}

export interface BatchQueue<I, O> {
  /**
   * Queues items; resolves with their outputs in order. When `signal` aborts while the items still
   * wait, they are taken out of the queue (they never run) and the promise rejects with the
   * signal's reason; a run already in progress cannot be stopped, its result is dropped.
   */
  push(items: readonly I[], signal?: AbortSignal): Promise<O[]>;
  /** Items waiting (not counting the run in progress). */
  readonly depth: number;
}

interface Pending<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

/**
 * Serialises runs of one session (onnxruntime-web sessions must not run concurrently) and
 * micro-batches: whatever queued up while a run was in progress goes into the next run together.
 * No timer is involved, so a lone request pays no batching delay.
 */
export function createBatchQueue<I, O>(
  runBatch: (items: I[]) => Promise<O[]>,
  options: BatchQueueOptions = {},
): BatchQueue<I, O> {
  const maxBatch = options.maxBatch ?? BATCH.maxBatch;
  const maxQueue = options.maxQueue ?? Infinity;
  const pending: Pending<I, O>[] = [];
  let running = false;

  const pump = async () => {
    if (running) return;
    running = true;
    try {
      await Promise.resolve(); // let requests arriving in the same tick join the first batch
      while (pending.length) {
        const batch = pending.splice(0, maxBatch);
        try {
          const out = await runBatch(batch.map((p) => p.item));
          batch.forEach((p, i) => p.resolve(out[i] as O));
        } catch (e) {
          batch.forEach((p) => p.reject(e));
        }
      }
    } finally {
      running = false;
    }
  };

  const abortError = (signal: AbortSignal): unknown =>
    signal.reason instanceof ClipEdgeError ? signal.reason : new ClipEdgeError('CANCELLED', 'the request was cancelled before its inference ran');

  return {
    push(items, signal) {
      if (signal?.aborted) return Promise.reject(abortError(signal));
      // A push larger than the whole queue is still taken when nothing waits (it is split into runs).
      if (pending.length > 0 && pending.length + items.length > maxQueue) {
        return Promise.reject(
          new ClipEdgeError('OVERLOADED', `inference queue is full (${pending.length} waiting, limit ${maxQueue}); retry shortly`),
        );
      }
      const mine: Pending<I, O>[] = [];
      const outs = items.map((item) => new Promise<O>((resolve, reject) => mine.push({ item, resolve, reject })));
      pending.push(...mine);
      if (signal) {
        const onAbort = () => {
          // Only items still waiting are dropped; taken ones are in a run and settle with it.
          const err = abortError(signal);
          for (const p of mine) {
            const at = pending.indexOf(p);
            if (at >= 0) {
              pending.splice(at, 1);
              p.reject(err);
            }
          }
        };
        signal.addEventListener('abort', onAbort, { once: true });
        void Promise.allSettled(outs).then(() => signal.removeEventListener('abort', onAbort));
      }
      void pump();
      return Promise.all(outs);
    },
    get depth() {
      return pending.length;
    },
  };
}
