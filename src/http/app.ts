import { OpenAPIHono } from '@hono/zod-openapi';
import type { ErrorHandler, Hono } from 'hono';
import type { BlankEnv } from 'hono/types';
import { cors } from 'hono/cors';
import { bearerAuth } from './auth.ts';
import type { ClipEdge } from '../core/clip.ts';
import { docsPage } from './docs-page.ts';
import { drainUnreadBodies } from './unread-body.ts';
import { ClipEdgeError, isClipEdgeError } from '../core/errors.ts';
import { quotedPath, retryAfterOf, SHED_CODES, STATUS_OF } from './errors.ts';
import { DEFAULT_MAX_FIELD_BYTES, DEFAULT_MAX_MULTIPART_PARTS } from './multipart.ts';
import { openApiConfig } from './openapi.ts';
import { createOverloadGuard, type OverloadOptions, requestBodyUnfinished, requestSignal } from './overload.ts';
import { requestLog } from './request-log.ts';
import type { VectorIndex } from '../search/types.ts';
import { classifyRoutes } from './routes/classify.ts';
import { embedRoutes } from './routes/embed.ts';
import { bodyMiddleware, type RouteContext, routeGroup } from './routes/group.ts';
import { healthRoutes, metaRoutes } from './routes/meta.ts';
import { searchRoutes } from './routes/search.ts';


export interface ClipAppOptions {
  /** The loaded kit, or a function that loads it on first use (e.g. once per Workers isolate). */
  clip: ClipEdge | (() => Promise<ClipEdge>);
  /** When set, every route but /healthz needs `Authorization: Bearer <apiKey>` (one of the keys, when several). */
  apiKey?: string | readonly string[];
  /** Allowed CORS origins (`'*'` for any). @defaultValue none: no CORS headers */
  corsOrigins?: string | readonly string[];
  /** Request body limit in bytes, enforced while streaming. @defaultValue 10 MiB */
  maxBodyBytes?: number;
  /**
   * Bytes of image request bodies held at once (memory-capped isolates): a request waits, first
   * come first served, for room before its body is read, so N simultaneous large uploads cannot
   * add up past it; a body larger than the pool alone is 413. @defaultValue no limit
   */
  bodyMemoryBytes?: number;
  /**
   * How a request waiting for `bodyMemoryBytes` learns of its turn: on its own timer (a runtime
   * where one request's promise cannot resume another's: the runtime adapter's `pollGrants`, set
   * on Workers), or resolved directly by the request that gave the bytes back. @defaultValue false
   */
  pollGrants?: boolean;
  /** Parts in one multipart body (image + form fields; repeated `labels` count one each). @defaultValue 512 */
  maxMultipartParts?: number;
  /** Extra response headers on every response (e.g. COOP/COEP for the browser page). */
  headers?: Record<string, string>;
  /** Load shedding: work in flight, request timeout, rate limiting (see overload.ts). @defaultValue 64 in flight, 30 s, no rate limit */
  overload?: OverloadOptions;
  /**
   * One log line per request (method, path, status, ms, bytes): `true` writes to console.log, or give
   * a writer. The servers turn it on (`CLIP_EDGE_REQUEST_LOG=0` turns it off). @defaultValue false
   */
  requestLog?: boolean | ((line: string) => void);
  /** The search index (POST /v1/index, DELETE /v1/index/{id}, POST /v1/search), or a function that opens it for the loaded model on first use. @defaultValue none: search answers 404 */
  index?: VectorIndex | ((clip: ClipEdge) => Promise<VectorIndex>);
  /** Called with unexpected errors (never sent to clients). @defaultValue console.error */
  onInternalError?: (err: unknown) => void;
}

/** A runtime factory's kit (ClipEdgeKit) as the bytes-only ClipEdge under it: the app reads bodies itself, under its own limits. */
const bytesOnly = (clip: ClipEdge): ClipEdge => (clip as ClipEdge & { core?: ClipEdge }).core ?? clip;

export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
/**
 * Reading what a request left of its body before the answer: for ≤ 10 s, not past 2 s without bytes
 * (a stalled client), a declared length up to twice the body limit (so a refusal by Content-Length
 * arrives too), at most 16 at once.
 */
const DRAIN_BOUNDS = { ms: 10_000, idleMs: 2_000, maxConcurrent: 16 };

/**
 * app.onError: a ClipEdgeError becomes `{"error": {code, message}}` with its status (STATUS_OF),
 * anything else a logged 500 INTERNAL.
 */
function errorResponse(onInternal: (e: unknown) => void): ErrorHandler<BlankEnv> {
  return (thrown, c) => {
    // Whatever a request that timed out or lost its client still throws is that, not a fault.
    const signal = requestSignal(c);
    const err = signal?.aborted ? (isClipEdgeError(signal.reason) ? signal.reason : new ClipEdgeError('CANCELLED', 'the request was cancelled')) : thrown;
    if (isClipEdgeError(err)) {
      const status = STATUS_OF[err.code] ?? 500;
      const shed = SHED_CODES.has(err.code);
      if (status >= 500 && !shed && err.code !== 'BACKEND_UNAVAILABLE') onInternal(err);
      const retryAfter = retryAfterOf(err.code, err.details);
      if (retryAfter !== undefined) c.header('Retry-After', String(retryAfter));
      // Answered before the body was read to its end: say the connection closes. The drain that
      // follows (unread-body.ts) takes the header off again when it reads the body to its end.
      if (requestBodyUnfinished(c)) c.header('Connection', 'close');
      // Server-side model problems say what is wrong with the model, but never where it lives on disk.
      const message = status >= 500 && !shed ? (err.code === 'INDEX_UNAVAILABLE' ? 'the search index is unavailable' : `the model could not be used (${err.code})`) : err.message;
      return c.json({ error: { code: err.code, message } }, status as 500);
    }
    onInternal(err);
    return c.json({ error: { code: 'INTERNAL', message: 'internal error' } }, 500);
  };
}

/** The HTTP API, identical on every runtime: Workers, Node, Deno, Bun. */
export const createClipApp = (options: ClipAppOptions): Hono => createClipOpenApiApp(options);

/** createClipApp with its OpenAPI type: `getOpenAPI31Document` gives the document that /openapi.json serves. */
export function createClipOpenApiApp(options: ClipAppOptions): OpenAPIHono<BlankEnv> {
  const o = resolveAppOptions(options);
  const app = routeGroup();
  const onInternal = options.onInternalError ?? ((e: unknown) => console.error('[clip-edge] internal error:', e));

  app.onError(errorResponse(onInternal));
  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method.slice(0, 16)} ${quotedPath(new URL(c.req.url).pathname)}` } }, 404));

  // Before anything can refuse a request: what the app leaves of its body is read before the answer.
  app.use('*', drainUnreadBodies({ maxBytes: o.maxBodyBytes, maxDeclaredBytes: 2 * o.maxBodyBytes, ...DRAIN_BOUNDS }));
  if (options.requestLog) app.use('*', requestLog(typeof options.requestLog === 'function' ? options.requestLog : undefined));
  if (options.headers) {
    const extra = options.headers;
    app.use('*', async (c, next) => {
      await next();
      for (const [k, v] of Object.entries(extra)) c.res.headers.set(k, v);
    });
  }
  if (options.corsOrigins !== undefined) {
    const origin = typeof options.corsOrigins === 'string' ? options.corsOrigins : [...options.corsOrigins];
    app.use('*', cors({ origin, allowHeaders: ['Authorization', 'Content-Type'], allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'], maxAge: 600 }));
  }

  const keyed = typeof options.apiKey === 'string' ? options.apiKey.length > 0 : (options.apiKey?.length ?? 0) > 0;
  const kit = kitLoader(options.clip);
  app.route('/', healthRoutes(kit.loaded));
  if (keyed) app.use('*', bearerAuth(options.apiKey!));
  // A slot released by the backstop: work that outlived its abort by seconds (a wait that ignores the
  // signal, or inference on a machine overloaded far beyond its limit). Worth a line in the log.
  const onAbandoned = (e: Error) => console.warn(`[clip-edge] ${e.message}`);
  const guard = createOverloadGuard({ onAbandoned, ...options.overload, keyed });
  app.use('/v1/*', guard.middleware);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'Needed when the server has an API key.' });
  // Its server is relative to the document (openapi.ts), so a mounted app's paths keep their base path.
  app.doc31('/openapi.json', openApiConfig());
  app.get('/docs', (c) => c.html(docsPage()));

  // Each group declares its routes, schemas, body limits and errors; the app only mounts them.
  const ctx: RouteContext = { getClip: kit.get, multipartLimits: o.multipartLimits, ...o.body, guard, ...(options.index ? { index: options.index } : {}) };
  for (const group of [metaRoutes, classifyRoutes, embedRoutes, searchRoutes]) app.route('/', group(ctx));
  return app;
}

/** Every option default, resolved once. */
function resolveAppOptions(options: ClipAppOptions) {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return {
    maxBodyBytes,
    multipartLimits: { maxParts: options.maxMultipartParts ?? DEFAULT_MAX_MULTIPART_PARTS, maxBytes: maxBodyBytes, maxFieldBytes: DEFAULT_MAX_FIELD_BYTES },
    body: bodyMiddleware(maxBodyBytes, options.bodyMemoryBytes, options.pollGrants ?? false),
  };
}

/**
 * The kit, or its loader run on first use; a failed load is retried by the next request.
 * `loaded()`: the kit once it has loaded (never starts a load: /healthz reads it).
 */
function kitLoader(clip: ClipAppOptions['clip']): { get: () => Promise<ClipEdge>; loaded: () => ClipEdge | undefined } {
  if (typeof clip !== 'function') {
    const kit = bytesOnly(clip);
    const ready = Promise.resolve(kit);
    return { get: () => ready, loaded: () => kit };
  }
  let clipP: Promise<ClipEdge> | undefined;
  let loaded: ClipEdge | undefined;
  const get = () =>
    (clipP ??= clip().then(
      (c) => (loaded = bytesOnly(c)),
      (e) => {
        clipP = undefined;
        throw e;
      },
    ));
  return { get, loaded: () => loaded };
}
