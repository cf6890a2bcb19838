import { requestLog } from './request-log.ts';
import { OpenAPIHono, type z } from '@hono/zod-openapi';
import type { Context, ErrorHandler, Hono, MiddlewareHandler } from 'hono';
import type { BlankEnv } from 'hono/types';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { bearerAuth } from './auth.ts';
import type { ClipEdge, ClassifyRequest } from '../core/clip.ts';
import { docsPage } from './docs-page.ts';
import { createBytePool } from './byte-pool.ts';
import { drainUnreadBodies } from './unread-body.ts';
import { ClipEdgeError, isClipEdgeError } from '../core/errors.ts';
import { quotedPath, STATUS_OF } from './errors.ts';
import { DEFAULT_MAX_FIELD_BYTES, DEFAULT_MAX_MULTIPART_PARTS, type MultipartLimits, readImageForm } from './multipart.ts';
import { classifyRoute, embedImageRoute, embedTextRoute, healthRoute, labelSetsRoute, loadRoute, modelsRoute } from './routes/docs.ts';
import { openApiConfig } from './openapi.ts';
import { ClassifyParams, EmbedTextBody } from './schemas.ts';
import { createOverloadGuard, type OverloadOptions, requestBodyUnfinished, requestSignal } from './overload.ts';
import { mountSearchRoutes } from './routes/search.ts';
import type { VectorIndex } from '../search/types.ts';

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

const IMAGE_TYPES = /^(image\/[a-z0-9.+-]+|application\/octet-stream)$/i;

/** Errors that shed load: their message is for the client, they carry Retry-After, and they are not server faults to log. */
const SHED = new Set(['OVERLOADED', 'TIMEOUT', 'RATE_LIMITED', 'CANCELLED', 'TEXT_ENCODER_DOWN']);

const mediaType = (c: Context) => (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();

/** A zod failure as the one BAD_INPUT error (its first issue; messages that name their field are kept whole). */
export function badInput(error: z.ZodError, prefix = ''): ClipEdgeError {
  const issue = error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  const message = issue?.message ?? 'invalid input';
  return new ClipEdgeError('BAD_INPUT', `${prefix}${field && !message.startsWith(field) ? `${field}: ` : ''}${message}`, { cause: error });
}

/** Query or form values: repeated fields are taken verbatim; a single `labels` value is split on commas. */
function readClassifyParams(get: (k: string) => string[]): ClassifyRequest {
  const fields = Object.fromEntries(
    Object.keys(ClassifyParams.shape).map((k) => [k, get(k)] as const).filter(([, v]) => v.length).map(([k, v]) => [k, v.length === 1 ? v[0] : v]),
  );
  const parsed = ClassifyParams.safeParse(fields);
  if (!parsed.success) throw badInput(parsed.error);
  const { labels: labelsRaw, labelSet, templates, topK } = parsed.data;
  const labels = typeof labelsRaw === 'string' ? labelsRaw.split(',').map((s) => s.trim()).filter(Boolean) : labelsRaw;
  if (labelsRaw !== undefined && !labels?.length) throw new ClipEdgeError('BAD_INPUT', 'labels is empty');
  return {
    ...(labels ? { labels } : {}),
    ...(labelSet !== undefined ? { labelSet } : {}),
    ...(templates !== undefined ? { templates: typeof templates === 'string' ? [templates] : templates } : {}),
    ...(topK !== undefined ? { topK } : {}),
  };
}

/** The image bytes and parameters of a classify/embed request: raw `image/*` body + query, or multipart. */
async function readImageRequest(c: Context, limits: MultipartLimits, withParams = true): Promise<{ image: Uint8Array; params: ClassifyRequest }> {
  const type = mediaType(c);
  if (type === 'multipart/form-data') {
    const { image, fields } = await readImageForm(c.req.raw, limits);
    if (image.byteLength === 0) throw new ClipEdgeError('BAD_INPUT', 'the image is empty (0 bytes)');
    const url = new URL(c.req.url);
    const get = (k: string) => [...url.searchParams.getAll(k), ...(fields.get(k) ?? [])];
    return { image, params: withParams ? readClassifyParams(get) : {} };
  }
  if (!IMAGE_TYPES.test(type)) {
    throw new ClipEdgeError(
      'UNSUPPORTED_MEDIA_TYPE',
      `send the image as the body with an image/* content type, or as the "image" field of multipart/form-data (got "${type || 'none'}")`,
    );
  }
  const image = new Uint8Array(await c.req.arrayBuffer());
  if (image.byteLength === 0) throw new ClipEdgeError('BAD_INPUT', 'the request body is empty: send the image bytes');
  const url = new URL(c.req.url);
  return { image, params: withParams ? readClassifyParams((k) => url.searchParams.getAll(k)) : {} };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
const roundTimings = <T extends object>(t: T): T =>
  Object.fromEntries(Object.entries(t).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v])) as T;

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
      const shed = SHED.has(err.code);
      if (status >= 500 && !shed && err.code !== 'BACKEND_UNAVAILABLE') onInternal(err);
      if (shed) c.header('Retry-After', String(Number(err.details?.retryAfterSeconds) || 1));
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

/**
 * Request bodies share a byte pool (Workers: CLIP_EDGE_BODY_MEMORY_MB). A request holds its declared
 * length (multipart is parsed into a second copy) until it ends; one that could never fit is 413.
 */
function bodyMemory(pool: ReturnType<typeof createBytePool>, maxBody: number): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header('content-length');
    const declared = header === undefined ? NaN : Number(header);
    const copies = mediaType(c) === 'multipart/form-data' ? 2 : 1;
    // A body of unknown length (chunked) holds the whole pool: it runs alone, capped by the body limit.
    const bytes = Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, maxBody) * copies : pool.total;
    if (bytes > pool.total) {
      throw new ClipEdgeError('PAYLOAD_TOO_LARGE', `this server holds at most ${(pool.total / 2 ** 20).toFixed(1)} MB of request bodies at once; the request needs ${(bytes / 2 ** 20).toFixed(1)} MB: send a smaller image`);
    }
    const release = await pool.acquire(bytes, requestSignal(c));
    try {
      await next();
    } finally {
      release();
    }
  };
}

/** The HTTP API, identical on every runtime: Workers, Node, Deno, Bun. */
export const createClipApp = (options: ClipAppOptions): Hono => createClipOpenApiApp(options);

/** createClipApp with its OpenAPI type: `getOpenAPI31Document` gives the document that /openapi.json serves. */
export function createClipOpenApiApp(options: ClipAppOptions): OpenAPIHono<BlankEnv> {
  const app = new OpenAPIHono<BlankEnv>({
    // Query validation failures are BAD_INPUT like every other bad request (app.onError maps them).
    defaultHook: (result) => {
      if (!result.success) throw badInput(result.error);
    },
  });
  let clipP: Promise<ClipEdge> | undefined;
  const getClip = (): Promise<ClipEdge> => {
    if (typeof options.clip !== 'function') return Promise.resolve(bytesOnly(options.clip));
    const load = options.clip;
    clipP ??= load().then(bytesOnly, (e) => {
      clipP = undefined; // a failed load is retried by the next request
      throw e;
    });
    return clipP;
  };
  const onInternal = options.onInternalError ?? ((e: unknown) => console.error('[clip-edge] internal error:', e));

  app.onError(errorResponse(onInternal));
  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method.slice(0, 16)} ${quotedPath(new URL(c.req.url).pathname)}` } }, 404));

  // Before anything can refuse a request: what the app leaves of its body is read before the answer.
  const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  app.use('*', drainUnreadBodies({ maxBytes, maxDeclaredBytes: 2 * maxBytes, ...DRAIN_BOUNDS }));
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
  app.openapi(healthRoute, (c) => c.json({ status: 'ok' as const }, 200));
  if (keyed) app.use('*', bearerAuth(options.apiKey!));
  // A slot released by the backstop: work that outlived its abort by seconds (a wait that ignores the
  // signal, or inference on a machine overloaded far beyond its limit). Worth a line in the log.
  const onAbandoned = (e: Error) => console.warn(`[clip-edge] ${e.message}`);
  const guard = createOverloadGuard({ onAbandoned, ...options.overload, keyed });
  app.use('/v1/*', guard.middleware);
  const multipartLimits: MultipartLimits = {
    maxParts: options.maxMultipartParts ?? DEFAULT_MAX_MULTIPART_PARTS,
    maxBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    maxFieldBytes: DEFAULT_MAX_FIELD_BYTES,
  };

  const limit = bodyLimit({
    maxSize: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    onError: () => {
      throw new ClipEdgeError('PAYLOAD_TOO_LARGE', `the request body is larger than ${options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES} bytes`);
    },
  });
  app.on('POST', ['/v1/classify', '/v1/embed/image', '/v1/embed/text', '/v1/index', '/v1/search'], limit);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'Needed when the server has an API key.' });
  // Its server is relative to the document (openapi.ts), so a mounted app's paths keep their base path.
  app.doc31('/openapi.json', openApiConfig());
  app.get('/docs', (c) => c.html(docsPage()));

  app.openapi(modelsRoute, async (c) => {
    const clip = await getClip();
    return c.json({ models: [clip.status()] }, 200);
  });

  app.openapi(loadRoute, (c) => c.json(guard.gauge(), 200));

  app.openapi(labelSetsRoute, async (c) => {
    const clip = await getClip();
    return c.json({ labelSets: await clip.labelSetNames() }, 200);
  });

  if (options.bodyMemoryBytes) app.on('POST', ['/v1/classify', '/v1/embed/image'], bodyMemory(createBytePool(options.bodyMemoryBytes), options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES));

  app.openapi(classifyRoute, async (c) => {
    const { image, params } = await readImageRequest(c, multipartLimits);
    const clip = await getClip();
    const r = await clip.classify(image, params, { signal: requestSignal(c) });
    return c.json({ ...r, timings: roundTimings(r.timings) }, 200);
  });

  app.openapi(embedImageRoute, async (c) => {
    const { image } = await readImageRequest(c, multipartLimits, false);
    const clip = await getClip();
    const r = await clip.embedImage(image, { signal: requestSignal(c) });
    return c.json({ ...r, embedding: Array.from(r.embedding), dim: r.embedding.length, timings: roundTimings(r.timings) }, 200);
  });

  app.openapi(embedTextRoute, async (c) => {
    if (mediaType(c) !== 'application/json') {
      throw new ClipEdgeError('UNSUPPORTED_MEDIA_TYPE', `send {"texts": [...]} as application/json (got "${mediaType(c) || 'none'}")`);
    }
    let body: unknown;
    try {
      body = await c.req.json();
    } catch (cause) {
      if (isClipEdgeError(cause)) throw cause;
      throw new ClipEdgeError('BAD_INPUT', 'the body is not valid JSON', { cause });
    }
    const parsed = EmbedTextBody.safeParse(body);
    if (!parsed.success) throw badInput(parsed.error, 'expected {"texts": [string, …]} with at least one text: ');
    const clip = await getClip();
    const r = await clip.embedText(parsed.data.texts, { signal: requestSignal(c) });
    const embeddings = r.embeddings.map((e) => Array.from(e));
    return c.json({ ...r, embeddings, truncated: [...r.truncated], dim: embeddings[0]?.length ?? 0, timings: roundTimings(r.timings) }, 200);
  });

  mountSearchRoutes(app, { getClip, multipartLimits, ...(options.index ? { index: options.index } : {}) });

  return app;
}
