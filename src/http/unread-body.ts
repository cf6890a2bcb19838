// A server that answers a request without reading its body to the end then closes the connection
// (workerd at once; Node after a short drain). The client is usually still sending, so its kernel
// receives a reset, which discards the answer it has not read yet: the client sees "connection
// reset" / EPIPE instead of the 413 / 415 / 503 / 401 the app gave it (measured: 9.5 MB uploads
// refused by the Worker's body pool lost their 413 in 5 of 12 tries, and Node's fetch failed on
// 9 MB text/plain uploads to `clip-edge serve`). So the app reads what it left of a body before
// answering, bounded in bytes and time, as nginx's "lingering close" does for the same reason. A
// body past the bounds is left unread, and its answer may then be lost. Hand-written: a dozen
// lines of Web streams that every runtime here shares; no middleware library offers it.
import type { MiddlewareHandler } from 'hono';
import { requestSignal } from './overload.ts';

export interface DrainBounds {
  /** The most bytes of a body read in all, by the app and the drain (a body known to be larger is not drained at all). */
  maxBytes: number;
  /** The most ms spent reading it. */
  ms: number;
  /** Stop when no bytes arrive for this long (a stalled client is not waited for). */
  idleMs: number;
}

export interface Drainable {
  /** `request` with a body the app reads as usual; cancelling it leaves the rest for {@link Drainable.drain}. */
  request: Request;
  /** Reads and discards what the app left unread, within the bounds; then lets the body go. Never throws. */
  drain(): Promise<void>;
  /** Lets the body go unread (a request that timed out or lost its client: nobody waits for its answer to be read). */
  release(): void;
}

/** Wraps `request`'s body so that what the app leaves unread can be read before the answer goes out. */
export function drainable(request: Request, bounds: DrainBounds): Drainable {
  const source = request.body;
  if (!source) return { request, drain: async () => {}, release: () => {} };
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let ended = false;
  /** Bytes of the body read so far, by the app and then by drain(). */
  let read = 0;
  /** The app's read in progress (one pending read at a time: workerd's streams refuse a second). */
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      reader ??= source.getReader();
      pending = reader.read();
      const r = await pending;
      pending = undefined;
      if (r.done) {
        ended = true;
        ctrl.close();
      } else {
        read += r.value.byteLength;
        ctrl.enqueue(r.value);
      }
    },
    // The app is done with the body (an error, a refusal): the rest stays for drain().
    cancel() {},
  });
  const wrapped = new Request(request, { body, duplex: 'half' } as RequestInit);
  const drain = async () => {
    if (ended) return;
    const declared = Number(request.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > bounds.maxBytes) {
      (reader ?? source).cancel().catch(() => {});
      return;
    }
    reader ??= source.getReader();
    const r = reader;
    const until = Date.now() + bounds.ms;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      while (read <= bounds.maxBytes) {
        const wait = Math.min(bounds.idleMs, until - Date.now());
        if (wait <= 0) break;
        const next = pending ?? r.read();
        pending = undefined;
        const step = await Promise.race([next, new Promise<'idle'>((ok) => (timer = setTimeout(() => ok('idle'), wait)))]);
        clearTimeout(timer);
        if (step === 'idle' || step.done) break;
        read += step.value.byteLength;
      }
    } catch {
      // the client went away: nothing left to read
    } finally {
      clearTimeout(timer);
      r.cancel().catch(() => {});
    }
  };
  const release = () => {
    if (!ended) (reader ?? source).cancel().catch(() => {});
  };
  return { request: wrapped, drain, release };
}

/**
 * Hono middleware: every request's body is {@link drainable}, and drained after the app's answer is
 * made, unless the request ended by its deadline or its client going away (a stalled upload is
 * answered 503 TIMEOUT at once, not after waiting on it again).
 */
export function drainUnreadBodies(bounds: DrainBounds): MiddlewareHandler {
  return async (c, next) => {
    if (!c.req.raw.body) return next();
    const d = drainable(c.req.raw, bounds);
    c.req.raw = d.request;
    try {
      await next();
    } finally {
      if (requestSignal(c)?.aborted) d.release();
      else await d.drain();
    }
  };
}
