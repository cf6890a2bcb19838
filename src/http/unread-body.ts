// A server that answers a request without reading its body to the end then closes the connection
// (workerd at once; Node after a short drain). The client is usually still sending, so its kernel
// receives a reset, which discards the answer it has not read yet: the client sees "connection
// reset" / EPIPE instead of the 413 / 415 / 503 / 401 the app gave it (measured: 9.5 MB uploads
// refused by the Worker's body pool lost their 413 in 5 of 12 tries, and Node's fetch failed on
// 9 MB text/plain uploads to `clip-edge serve`). So the app reads what it left of a body before it
// answers — the answer waits for that read, bounded in bytes, time and in how many run at once.
// (nginx's "lingering close" reads after answering, which a Web `fetch` handler cannot do: the
// runtime owns the socket once the Response is returned.) A body past the bounds is left unread,
// and its answer may then be lost. Hand-written: Web streams that every runtime here shares; no
// middleware library offers it.
import type { MiddlewareHandler } from 'hono';
import { requestSignal } from './overload.ts';

export interface DrainBounds {
  /** The most bytes of a body of unknown length read in all, by the app and the drain (the body limit). */
  maxBytes: number;
  /** A body whose declared Content-Length is larger is not drained at all. @defaultValue maxBytes */
  maxDeclaredBytes?: number;
  /** The most ms spent reading it. */
  ms: number;
  /** Stop when no bytes arrive for this long (a stalled client is not waited for). */
  idleMs: number;
}

export interface Drainable {
  /** `request` with a body the app reads as usual; cancelling it leaves the rest for {@link Drainable.drain}. */
  request: Request;
  /** Reads and discards what the app left unread, within the bounds; then lets the body go. Never throws. Resolves true when the body was read to its end. */
  drain(): Promise<boolean>;
  /** Lets the body go unread (a request that timed out or lost its client: nobody waits for its answer to be read). */
  release(): void;
}

/** Wraps `request`'s body so that what the app leaves unread can be read before the answer goes out. */
export function drainable(request: Request, bounds: DrainBounds): Drainable {
  const source = request.body;
  if (!source) return { request, drain: async () => true, release: () => {} };
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let ended = false;
  let draining = false;
  /** Bytes of the body read so far, by the app and then by drain(): counted once, where they are read. */
  let read = 0;
  /** The one read in progress, shared by the app's pulls and the drain (workerd's streams refuse a second). */
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  const readOnce = (): Promise<ReadableStreamReadResult<Uint8Array>> => {
    reader ??= source.getReader();
    pending ??= reader.read().then(
      (r) => {
        pending = undefined;
        if (r.done) ended = true;
        else read += r.value.byteLength;
        return r;
      },
      (e: unknown) => {
        pending = undefined;
        throw e;
      },
    );
    return pending;
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      const r = draining ? undefined : await readOnce();
      // Once the drain owns the body, the app's stream ends (it has cancelled it, or stopped reading).
      if (draining || !r || r.done) {
        try {
          ctrl.close();
        } catch {
          // already cancelled by the app
        }
      } else ctrl.enqueue(r.value);
    },
    // The app is done with the body (an error, a refusal): the rest stays for drain().
    cancel() {},
  });
  const wrapped = new Request(request, { body, duplex: 'half' } as RequestInit);
  const letGo = () => {
    if (!ended) (reader ?? source).cancel().catch(() => {});
  };
  const drain = async (): Promise<boolean> => {
    if (ended) return true;
    draining = true;
    const declared = Number(request.headers.get('content-length') ?? NaN);
    const known = Number.isFinite(declared);
    if (known && declared > (bounds.maxDeclaredBytes ?? bounds.maxBytes)) {
      letGo();
      return false;
    }
    const limit = known ? declared : bounds.maxBytes;
    const until = Date.now() + bounds.ms;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let idle = false;
    try {
      while (!ended && read <= limit) {
        const wait = Math.min(bounds.idleMs, until - Date.now());
        if (wait <= 0) break;
        const next = readOnce();
        const step = await Promise.race([next, new Promise<'idle'>((ok) => (timer = setTimeout(() => ok('idle'), wait)))]);
        clearTimeout(timer);
        if (step === 'idle') {
          idle = true;
          break;
        }
      }
    } catch {
      // the client went away: nothing left to read
    } finally {
      clearTimeout(timer);
      if (idle || !ended) letGo();
    }
    return ended;
  };
  const release = () => {
    draining = true;
    letGo();
  };
  return { request: wrapped, drain, release };
}

/**
 * Hono middleware: every request's body is {@link drainable}, and drained after the app's answer is
 * made, unless the request ended by its deadline or its client going away (a stalled upload is
 * answered 503 TIMEOUT at once, not after waiting on it again), or `maxConcurrent` drains are already
 * running (a flood of refused uploads does not make the server read them all).
 */
export function drainUnreadBodies(bounds: DrainBounds & { maxConcurrent: number }): MiddlewareHandler {
  let active = 0;
  return async (c, next) => {
    const m = c.req.method;
    if (m === 'GET' || m === 'HEAD' || m === 'OPTIONS' || !c.req.raw.body) return next();
    const d = drainable(c.req.raw, bounds);
    c.req.raw = d.request;
    try {
      await next();
    } finally {
      if (requestSignal(c)?.aborted || active >= bounds.maxConcurrent) d.release();
      else {
        active++;
        try {
          // Read to its end: the connection can stay open, whatever the error answer promised.
          if ((await d.drain()) && c.res.headers.get('Connection') === 'close') {
            try {
              c.res.headers.delete('Connection');
            } catch {
              // immutable headers (a Response passed through): keep the header
            }
          }
        } finally {
          active--;
        }
      }
    }
  };
}
