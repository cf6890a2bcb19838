import { ClipEdgeError } from './errors.ts';

/** Throws when the signal has aborted: a ClipEdgeError reason as is, anything else as CANCELLED. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  if (signal.reason instanceof ClipEdgeError) throw signal.reason;
  throw new ClipEdgeError('CANCELLED', 'the request was cancelled');
}
