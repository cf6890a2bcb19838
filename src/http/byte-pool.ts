import { ClipEdgeError } from '../core/errors.ts';
import { ByteBudget } from '../core/image/byte-budget.ts';

/**
 * A pool of bytes shared by concurrent requests (request bodies held at once in a memory-capped
 * isolate). `acquire` resolves, first come first served, when the bytes are free; the returned
 * function gives them back. Nothing in the Web platform or Hono counts memory across requests,
 * hence this semaphore: the decoders' ByteBudget at a fixed size. With `pollGrants` (the runtime
 * adapter's: Workers) its waiters learn of their grant on their own timers (in a Workers isolate a
 * promise resolved by another request resumes its awaiter in that request's I/O context, where
 * reading its own body would fail or die with it); elsewhere they are resolved directly.
 */
export interface BytePool {
  readonly total: number;
  /** Bytes currently held. */
  readonly used: number;
  acquire(bytes: number, signal?: AbortSignal): Promise<() => void>;
}

export function createBytePool(total: number, options: { readonly pollGrants?: boolean } = {}): BytePool {
  if (!(total > 0)) throw new ClipEdgeError('BAD_INPUT', `a byte pool needs a positive size, got ${total}`);
  // The decoders' budget with a fixed size; an aborted wait rejects with the signal's own reason.
  const budget = new ByteBudget(() => total, { reasonOf: (signal) => signal.reason, pollGrants: options.pollGrants ?? false });
  return {
    total,
    get used() {
      return budget.inUse;
    },
    acquire(bytes, signal) {
      if (bytes > total) throw new ClipEdgeError('INTERNAL', `cannot hold ${bytes} bytes in a pool of ${total}`);
      return budget.acquire(bytes, signal);
    },
  };
}
