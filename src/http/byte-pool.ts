import { ClipEdgeError } from '../core/errors.ts';
import { GRANT_POLL_MS } from '../core/image/byte-budget.ts';

/**
 * A pool of bytes shared by concurrent requests (request bodies held at once in a memory-capped
 * isolate). `acquire` resolves, first come first served, when the bytes are free; the returned
 * function gives them back. Nothing in the Web platform or Hono counts memory across requests,
 * hence this small semaphore. A waiter learns of its grant on its own timer, never from the
 * releasing request's call: in a Workers isolate a promise resolved by another request resumes its
 * awaiter in that request's I/O context, where reading its own body fails or dies with the other
 * request (see ByteBudget in src/core/image/byte-budget.ts).
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
        let granted: (() => void) | null = null;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const entry = { bytes, grant: () => (granted = releaser(bytes)) };
        const poll = () => {
          if (!granted) {
            timer = setTimeout(poll, GRANT_POLL_MS);
            return;
          }
          signal?.removeEventListener('abort', onAbort);
          resolve(granted);
        };
        const onAbort = () => {
          clearTimeout(timer);
          if (granted) granted();
          else {
            const i = waiting.indexOf(entry);
            if (i >= 0) waiting.splice(i, 1);
            pump();
          }
          reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiting.push(entry);
        timer = setTimeout(poll, GRANT_POLL_MS);
      });
    },
  };
}
