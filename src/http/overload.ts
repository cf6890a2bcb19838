import type { Context, MiddlewareHandler } from 'hono';
import { setDeadline } from '../core/abort.ts';
import { ClipEdgeError, isClipEdgeError } from '../core/errors.ts';
import { sha256Hex } from '../core/model/integrity.ts';

/** What a rate limiter says about one request. */
export interface RateLimitDecision {
  ok: boolean;
  /** Seconds until a request with this key would be allowed again (sent as `Retry-After`). */
  retryAfterSeconds?: number;
}

/**
 * Decides whether one more request with this key may run. The built-in one
 * ({@link tokenBucketRateLimiter}) is per isolate / process; a network-wide limiter (e.g.
 * Cloudflare's Rate Limiting binding, see the Workers adapter) plugs in here.
 */
export interface RateLimiter {
  limit(key: string): RateLimitDecision | Promise<RateLimitDecision>;
}

export interface TokenBucketOptions {
  /** Requests allowed per window (also the burst size). */
  requests: number;
  /** Window in seconds. @defaultValue 60 */
  perSeconds?: number;
  /** Keys remembered; the least recently used is forgotten beyond this (bounds memory under key spraying). @defaultValue 10_000 */
  maxKeys?: number;
  /** Clock in milliseconds (tests). @defaultValue Date.now */
  now?: () => number;
}

/** A token bucket per key, in memory: `requests` per `perSeconds`, refilled continuously. */
export function tokenBucketRateLimiter(o: TokenBucketOptions): RateLimiter {
  if (!Number.isInteger(o.requests) || o.requests < 1) throw new ClipEdgeError('BAD_INPUT', `rate limit requests must be an integer ≥ 1, got ${o.requests}`);
  const per = o.perSeconds ?? 60;
  if (!(per > 0)) throw new ClipEdgeError('BAD_INPUT', `rate limit window must be > 0 seconds, got ${per}`);
  const rate = o.requests / per; // tokens per second
  const maxKeys = o.maxKeys ?? 10_000;
  const now = o.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    limit(key) {
      const t = now();
      const b = buckets.get(key) ?? { tokens: o.requests, at: t };
      buckets.delete(key); // re-inserted below: Map order is the LRU order
      b.tokens = Math.min(o.requests, b.tokens + ((t - b.at) / 1000) * rate);
      b.at = t;
      let decision: RateLimitDecision;
      if (b.tokens >= 1) {
        b.tokens -= 1;
        decision = { ok: true };
      } else {
        decision = { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / rate)) };
      }
      buckets.set(key, b);
      if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value!);
      return decision;
    },
  };
}

export interface OverloadOptions {
  /**
   * Requests doing work (POST routes: body upload, decode, inference) at once in this isolate /
   * process; one more gets `503 OVERLOADED` with `Retry-After` before its body is read.
   * @defaultValue 64
   */
  maxInFlight?: number;
  /**
   * Time a request may take, body upload included; then it gets `503 TIMEOUT` and its work still
   * waiting in an inference queue is dropped. 0 turns it off. @defaultValue 30_000
   */
  requestTimeoutMs?: number;
  /** Per-key rate limiting (`429 RATE_LIMITED` with `Retry-After`). @defaultValue none */
  rateLimiter?: RateLimiter;
  /**
   * The rate-limit key of a request that has no API key to be keyed by (no API key configured):
   * e.g. the client address the runtime knows. @defaultValue one shared key
   */
  clientKey?: (c: Context) => string | undefined;
  /** Whether requests carry API keys checked by the auth middleware (then keys are per API key). */
  keyed?: boolean;
  /**
   * Backstop: a slot whose work has not ended this long after its request was aborted (deadline,
   * client gone) is released anyway, and `onAbandoned` is told. @defaultValue max(10 s, requestTimeoutMs)
   */
  abandonAfterMs?: number;
  /** Told when the backstop released a slot (a wait that ignored the request's signal, or inference on a machine loaded far past its limit). @defaultValue a warning in the log (createClipApp) */
  onAbandoned?: (err: ClipEdgeError) => void;
}

export const DEFAULT_MAX_IN_FLIGHT = 64;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_ABANDON_AFTER_MS = 10_000;

/** The overload options a service config asks for (shared by every runtime's entry). */
export function overloadOptionsOf(
  cfg: { maxInFlight?: number; requestTimeoutMs?: number; rateLimitPerMinute?: number },
  extra: Pick<OverloadOptions, 'clientKey' | 'rateLimiter'> = {},
): OverloadOptions {
  const rateLimiter = extra.rateLimiter ?? (cfg.rateLimitPerMinute ? tokenBucketRateLimiter({ requests: cfg.rateLimitPerMinute, perSeconds: 60 }) : undefined);
  return {
    ...(cfg.maxInFlight !== undefined ? { maxInFlight: cfg.maxInFlight } : {}),
    ...(cfg.requestTimeoutMs !== undefined ? { requestTimeoutMs: cfg.requestTimeoutMs } : {}),
    ...(rateLimiter ? { rateLimiter } : {}),
    ...(extra.clientKey ? { clientKey: extra.clientKey } : {}),
  };
}

const signals = new WeakMap<Context, AbortSignal>();
const bodies = new WeakMap<Context, BodyState>();

/** The request's abort signal: fires on the request timeout or when the client goes away. */
export const requestSignal = (c: Context): AbortSignal | undefined => signals.get(c);

/**
 * Whether the answer goes out before the request body was read to its end (a timeout, a refusal,
 * an upload that stalled): the runtime then closes the connection rather than wait for the rest,
 * so the response says `Connection: close`.
 */
export function requestBodyUnfinished(c: Context): boolean {
  const m = c.req.method;
  if (m === 'GET' || m === 'HEAD' || m === 'OPTIONS') return false;
  const tracked = bodies.get(c);
  if (tracked) return !tracked.done;
  return c.req.raw.body !== null;
}

/** What the in-flight limit holds, for `GET /v1/load` and the fault-and-recovery tests. */
export interface OverloadGauge {
  /** Requests holding a slot now (admitted − released). */
  inFlight: number;
  maxInFlight: number;
  requestTimeoutMs: number;
  /** Slots handed out since start. */
  admitted: number;
  /** Slots given back since start (each admission exactly once). */
  released: number;
  /** Of those, released by the backstop because the work had not ended a grace period after its deadline. */
  abandoned: number;
}

export interface OverloadGuard {
  middleware: MiddlewareHandler;
  gauge(): OverloadGauge;
}

const bearer = (c: Context): string | undefined => /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1]?.trim();

/** The rate-limit key: a hash of the API key when keys are checked (never the key itself), else the client. */
async function rateKey(c: Context, o: OverloadOptions): Promise<string> {
  const token = o.keyed ? bearer(c) : undefined;
  if (token) return `key:${(await sha256Hex(new TextEncoder().encode(token))).slice(0, 32)}`;
  return `client:${o.clientKey?.(c) ?? 'any'}`;
}

/** Load shedding for the API routes (see {@link createOverloadGuard}). */
export function overloadGuard(o: OverloadOptions = {}): MiddlewareHandler {
  return createOverloadGuard(o).middleware;
}

/**
 * Load shedding for the API routes, mounted once after authentication: rate limit (429), bounded
 * work in flight (503 before the body is read), and a deadline per request (503 TIMEOUT) whose
 * signal drops the request's queued inference and fails its body read. All state is per isolate /
 * process.
 *
 * Every admission is given back exactly once, whatever ends the request: the work finishing or
 * failing, the deadline, the client going away, the body stream erroring. The body is read through
 * a stream that fails when the request's signal aborts, so a stalled upload ends its work at the
 * deadline instead of waiting on a socket forever (that wait used to keep the slot for good). As a
 * backstop for any wait that does not honour the signal, a slot whose work has not ended
 * `abandonAfterMs` after the abort is given back anyway and reported through `onAbandoned`.
 */
export function createOverloadGuard(o: OverloadOptions = {}): OverloadGuard {
  const maxInFlight = o.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const timeoutMs = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new ClipEdgeError('BAD_INPUT', `maxInFlight must be an integer ≥ 1, got ${maxInFlight}`);
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new ClipEdgeError('BAD_INPUT', `requestTimeoutMs must be ≥ 0, got ${timeoutMs}`);
  const abandonAfterMs = o.abandonAfterMs ?? Math.max(DEFAULT_ABANDON_AFTER_MS, timeoutMs);
  const counts = { admitted: 0, released: 0, abandoned: 0 };

  /** One slot: `release` gives it back the first time it is called and never again. */
  const admit = () => {
    counts.admitted++;
    let held = true;
    return (abandoned = false) => {
      if (!held) return false;
      held = false;
      counts.released++;
      if (abandoned) counts.abandoned++;
      return true;
    };
  };

  const middleware: MiddlewareHandler = async (c, next) => {
    if (c.req.method === 'OPTIONS') return next();
    if (o.rateLimiter) {
      const d = await o.rateLimiter.limit(await rateKey(c, o));
      if (!d.ok) {
        const retryAfterSeconds = d.retryAfterSeconds ?? 1;
        throw new ClipEdgeError('RATE_LIMITED', `too many requests for this key; retry in ${retryAfterSeconds} s`, { details: { retryAfterSeconds } });
      }
    }
    if (c.req.method !== 'POST') return next();
    const inFlight = counts.admitted - counts.released;
    if (inFlight >= maxInFlight) {
      throw new ClipEdgeError('OVERLOADED', `the server is busy (${inFlight} requests in progress, limit ${maxInFlight}); retry shortly`, {
        details: { retryAfterSeconds: 1 },
      });
    }
    const release = admit();
    const deadline = new AbortController();
    const deadlineAt = Date.now() + timeoutMs;
    const timer =
      timeoutMs > 0
        ? setTimeout(
            () => deadline.abort(new ClipEdgeError('TIMEOUT', `the request did not complete within ${timeoutMs} ms; retry later`, { details: { retryAfterSeconds: 1 } })),
            timeoutMs,
          )
        : undefined;
    const clientGone = c.req.raw.signal as AbortSignal | undefined;
    const signal = clientGone && typeof AbortSignal.any === 'function' ? AbortSignal.any([deadline.signal, clientGone]) : deadline.signal;
    signals.set(c, signal);
    if (timeoutMs > 0) setDeadline(signal, deadlineAt);
    readBodyUnder(c, signal);
    let backstop: ReturnType<typeof setTimeout> | undefined;
    const onSignal = () => {
      backstop = setTimeout(() => {
        if (release(true)) o.onAbandoned?.(new ClipEdgeError('INTERNAL', `a request's work had not ended ${abandonAfterMs} ms after it was aborted; its in-flight slot was released`));
      }, abandonAfterMs);
    };
    signal.addEventListener('abort', onSignal, { once: true });
    // The work counts as in flight until it really ends, even after a timeout has answered.
    const work = next().finally(() => {
      release();
      clearTimeout(timer);
      clearTimeout(backstop);
      signal.removeEventListener('abort', onSignal);
    });
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(deadline.signal.reason);
      deadline.signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => {});
    work.catch(() => {});
    try {
      await Promise.race([work, aborted]);
    } finally {
      deadline.signal.removeEventListener('abort', onAbort!);
    }
  };

  return {
    middleware,
    gauge: () => ({ inFlight: counts.admitted - counts.released, maxInFlight, requestTimeoutMs: timeoutMs, ...counts }),
  };
}

interface BodyState {
  done: boolean;
}

/**
 * Replaces the request's body by one that fails with the signal's reason once the signal aborts
 * (a pending read included), so no reader of the body can wait past the deadline or a client
 * that has gone. Hand-written: it is the Streams API's own pattern, a dozen lines, and no
 * library offers it for the Web streams that every runtime here shares.
 */
function readBodyUnder(c: Context, signal: AbortSignal): void {
  const raw = c.req.raw;
  const state: BodyState = { done: raw.body === null };
  bodies.set(c, state);
  if (raw.body === null) return;
  const source = raw.body;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      reader ??= source.getReader();
      const r = await Promise.race([
        reader.read().catch((cause: unknown) => {
          // The upload broke off (a reset connection, a stream that errored): the client's fault, not ours.
          throw isClipEdgeError(cause) ? cause : new ClipEdgeError('BAD_INPUT', 'the request body could not be read to its end (the upload broke off)', { cause });
        }),
        aborted,
      ]);
      if (r.done) {
        state.done = true;
        signal.removeEventListener('abort', onAbort!);
        ctrl.close();
      } else ctrl.enqueue(r.value);
    },
    cancel(reason) {
      signal.removeEventListener('abort', onAbort!);
      return (reader ?? source).cancel(reason);
    },
  });
  c.req.raw = new Request(raw, { body, duplex: 'half' } as RequestInit);
}
