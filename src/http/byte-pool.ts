import { ClipEdgeError } from '../core/errors.ts';

/**
 * A pool of bytes shared by concurrent requests (request bodies held at once in a memory-capped
 * isolate). `acquire` resolves, first come first served, when the bytes are free; the returned
 * function gives them back. Nothing in the Web platform or Hono counts memory across requests,
 * hence this small semaphore.
 */
export interface BytePool {
  readonly total: number;
  /** Bytes currently held. */
  readonly used: number;
  acquire(bytes: number, signal?: AbortSignal): Promise<() => void>;
}

export function createBytePool(total: number): BytePool {
  if (!(total > 0)) throw new ClipEdgeError('BAD_INPUT', `a byte pool needs a positive size, got ${total}`);
  let used = 0;
  const waiting: { bytes: number; grant: () => void }[] = [];
  const pump = () => {
    while (waiting.length && used + waiting[0]!.bytes <= total) {
      const w = waiting.shift()!;
      used += w.bytes;
      w.grant();
    }
  };
  const releaser = (bytes: number) => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      used -= bytes;
      pump();
    };
  };
  return {
    total,
    get used() {
      return used;
    },
    acquire(bytes, signal) {
      if (bytes > total) throw new ClipEdgeError('INTERNAL', `cannot hold ${bytes} bytes in a pool of ${total}`);
      signal?.throwIfAborted();
      if (!waiting.length && used + bytes <= total) {
        used += bytes;
        return Promise.resolve(releaser(bytes));
      }
      return new Promise((resolve, reject) => {
        const entry = {
          bytes,
          grant: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve(releaser(bytes));
          },
        };
        const onAbort = () => {
          const i = waiting.indexOf(entry);
          if (i >= 0) waiting.splice(i, 1);
          reject(signal!.reason);
          pump();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiting.push(entry);
      });
    },
  };
}
