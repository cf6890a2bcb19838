import { throwIfAborted } from '../abort.ts';

/** How often a waiting decode looks for its grant when grants are polled (see ByteBudget). */
export const GRANT_POLL_MS = 2;

interface Waiter {
  readonly bytes: number;
  readonly signal: AbortSignal | undefined;
  /** Hands the reservation over (the waiter has left the queue). */
  readonly grant: () => void;
  /** Rejects the wait: its signal had aborted when its turn came. */
  readonly drop: () => void;
}

/** Options of a {@link ByteBudget}. */
export interface ByteBudgetOptions {
  /** What an aborted wait rejects with. @defaultValue the signal's ClipEdgeError reason as is, anything else as CANCELLED */
  readonly reasonOf?: (signal: AbortSignal) => unknown;
  /**
   * Waiters learn of their grant on their own timer (every {@link GRANT_POLL_MS} ms) instead of
   * from the releasing call: needed in a Workers isolate (see ByteBudget), pointless elsewhere,
   * where the promise is resolved directly. The runtime adapter says which.
   * @defaultValue false
   */
  readonly pollGrants?: boolean;
}

/**
 * Decode memory shared by concurrent decodes: each decode reserves its estimated peak bytes and
 * waits, first come first served, until they fit beside the reservations already held. So N
 * requests at once cost at most the budget, not N × the largest image (16 hostile 40 MP WebPs
 * took 2.76 GB before). One reservation alone is always granted once nothing else is held (the
 * caller has refused anything over the whole budget), so a large image waits, never starves.
 * A waiter whose signal has aborted when its turn comes is passed over: its bytes go to the next
 * (with `pollGrants`, the waiter finds that out on its own timer and hands its grant on).
 *
 * With `pollGrants` (Workers) a waiter learns of its grant on its own timer, not from the
 * releasing request's call: in a Workers isolate, a promise resolved by another request resumes
 * its awaiter in that request's I/O context, so the decode that follows (a PNG's
 * DecompressionStream, timers) would belong to the other request and die with it — workerd then
 * cancels the waiting request as "hung". Measured: four 12 MP PNGs at once hung that way. A grant
 * not yet picked up goes back the moment the waiter's signal aborts (its request was cancelled:
 * its timers may never run again).
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: Waiter[] = [];
  private readonly reasonOf: (signal: AbortSignal) => unknown;
  private readonly pollGrants: boolean;

  /** `budget` is asked at every grant (it may follow what a memory-capped isolate has left). */
  constructor(
    private readonly budget: () => number,
    options: ByteBudgetOptions = {},
  ) {
    this.reasonOf = options.reasonOf ?? abortReason;
    this.pollGrants = options.pollGrants ?? false;
  }

  /** Bytes reserved by decodes at work now (grants not yet picked up included). */
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
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const poll = () => {
        if (signal?.aborted) return onAbort(); // its listener may not have run (a cancelled request)
        if (granted) settle(() => resolve(granted!));
        else timer = setTimeout(poll, GRANT_POLL_MS);
      };
      const waiter: Waiter = {
        bytes,
        signal,
        grant: () => {
          granted = this.take(bytes);
          if (!this.pollGrants) settle(() => resolve(granted!));
        },
        drop: () => settle(() => reject(this.reasonOf(signal!))),
      };
      const onAbort = () => {
        if (granted) granted(); // granted but not yet picked up: give it back now
        else this.leave(waiter);
        settle(() => reject(this.reasonOf(signal!)));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
      if (this.pollGrants) timer = setTimeout(poll, GRANT_POLL_MS);
    });
  }

  /** Takes a waiter out of the queue; the next one may fit now that it left the head of the line. */
  private leave(waiter: Waiter): void {
    const i = this.waiting.indexOf(waiter);
    if (i >= 0) this.waiting.splice(i, 1);
    this.pump();
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
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!;
      // A request cancelled while it waited would never pick its grant up: pass it over. Not with
      // polled grants (Workers): there the signal belongs to another request's I/O context, and
      // touching it from this one throws ("Cannot perform I/O on behalf of a different request");
      // the waiter checks it on its own timer instead (poll).
      if (!this.pollGrants && next.signal?.aborted) {
        this.waiting.shift();
        next.drop();
        continue;
      }
      if (!this.fits(next.bytes)) return;
      this.waiting.shift();
      next.grant();
    }
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
