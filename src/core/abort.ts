import { ClipEdgeError } from './errors.ts';

/** Throws when the signal has aborted: a ClipEdgeError reason as is, anything else as CANCELLED. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  if (signal.reason instanceof ClipEdgeError) throw signal.reason;
  throw new ClipEdgeError('CANCELLED', 'the request was cancelled');
}

const deadlines = new WeakMap<AbortSignal, number>();

/**
 * Records that `signal` aborts at `at` (ms since the epoch) for a deadline, so that work under it can
 * plan with the time left: the split vision chain gives each hop its share and answers, naming the
 * part at fault, before the request's own deadline does.
 */
export function setDeadline(signal: AbortSignal, at: number): void {
  deadlines.set(signal, at);
}

/** When `signal`'s deadline falls (ms since the epoch), if one was recorded with {@link setDeadline}. */
export function deadlineOf(signal: AbortSignal | undefined): number | undefined {
  return signal ? deadlines.get(signal) : undefined;
}

/** A promise that rejects as {@link throwIfAborted} would once `signal` aborts (never, without one); it is never an unhandled rejection. */
export function whenAborted(signal: AbortSignal | undefined): { promise: Promise<never>; dispose(): void } {
  if (!signal) return { promise: new Promise<never>(() => {}), dispose: () => {} };
  let onAbort: () => void = () => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => {
      try {
        throwIfAborted(signal);
      } catch (e) {
        reject(e);
      }
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => {});
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}
