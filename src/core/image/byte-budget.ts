import { throwIfAborted } from '../abort.ts';

/** How often a waiting decode looks for its grant (see ByteBudget). */
export const GRANT_POLL_MS = 2;

interface Waiter {
  readonly bytes: number;
  readonly grant: () => void;
}

/**
 * Decode memory shared by concurrent decodes: each decode reserves its estimated peak bytes and
 * waits, first come first served, until they fit beside the reservations already held. So N
 * requests at once cost at most the budget, not N × the largest image (16 hostile 40 MP WebPs
 * took 2.76 GB before). One reservation alone is always granted once nothing else is held (the
 * caller has refused anything over the whole budget), so a large image waits, never starves.
 *
 * A waiter learns of its grant on its own timer (every {@link GRANT_POLL_MS} ms), not from the
 * releasing request's call: in a Workers isolate, a promise resolved by another request resumes
 * its awaiter in that request's I/O context, so the decode that follows (a PNG's
 * DecompressionStream, timers) would belong to the other request and die with it — workerd then
 * cancels the waiting request as "hung". Measured: four 12 MP PNGs at once hung that way.
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: Waiter[] = [];

  /**
   * `budget` is asked at every grant (it may follow what a memory-capped isolate has left);
   * `reasonOf` is what an aborted wait rejects with (default: the signal's ClipEdgeError reason as
   * is, anything else as CANCELLED).
   */
  constructor(
    private readonly budget: () => number,
    private readonly reasonOf: (signal: AbortSignal) => unknown = abortReason,
  ) {}

  /** Bytes reserved by decodes at work now. */
  get inUse(): number {
    return this.used;
  }

  /** Decodes waiting for room. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Resolves with a release function once `bytes` fit; rejects with the signal's reason (or
   * CANCELLED) if the signal aborts first, leaving the queue as if it had never waited.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(this.reasonOf(signal));
    if (this.waiting.length === 0 && this.fits(bytes)) return Promise.resolve(this.take(bytes));
    return new Promise((resolve, reject) => {
      let granted: (() => void) | null = null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter: Waiter = { bytes, grant: () => (granted = this.take(bytes)) };
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
        if (granted) granted(); // granted but not yet picked up: give it back
        else {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) this.waiting.splice(i, 1);
          this.pump(); // the next one may fit now that this one left the head of the line
        }
        reject(this.reasonOf(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
      timer = setTimeout(poll, GRANT_POLL_MS);
    });
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.budget();
  }

  private take(bytes: number): () => void {
    this.used += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
      this.pump();
    };
  }

  private pump(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.bytes)) this.waiting.shift()!.grant();
  }
}

/** The signal's ClipEdgeError reason as is, anything else as CANCELLED (as throwIfAborted does). */
function abortReason(signal: AbortSignal): unknown {
  try {
    throwIfAborted(signal);
  } catch (e) {
    return e;
  }
  return undefined;
}
