import { ClipEdgeError } from './errors.ts';

export interface BatchQueueOptions {
  /** Most items in one run. @defaultValue 16 */
  maxBatch?: number;
  /** Items allowed to wait; beyond it `push` fails with OVERLOADED. @defaultValue Infinity */
  maxQueue?: number;
}

export interface BatchQueue<I, O> {
  /** Queues items; resolves with their outputs in order. */
  push(items: readonly I[]): Promise<O[]>;
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
  const maxBatch = options.maxBatch ?? 16;
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

  return {
    push(items) {
      // A push larger than the whole queue is still taken when nothing waits (it is split into runs).
      if (pending.length > 0 && pending.length + items.length > maxQueue) {
        return Promise.reject(
          new ClipEdgeError('OVERLOADED', `inference queue is full (${pending.length} waiting, limit ${maxQueue}); retry shortly`),
        );
      }
      const outs = items.map((item) => new Promise<O>((resolve, reject) => pending.push({ item, resolve, reject })));
      void pump();
      return Promise.all(outs);
    },
    get depth() {
      return pending.length;
    },
  };
}
