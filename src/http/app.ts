import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { z } from 'zod';
import { bearerAuth } from './auth.ts';
import type { ClipEdge, ClassifyRequest } from '../core/clip.ts';
import { docsPage } from './docs-page.ts';
import { createBytePool } from './byte-pool.ts';
import { ClipEdgeError, isClipEdgeError } from '../core/errors.ts';
import { quotedPath, STATUS_OF } from './errors.ts';
import { DEFAULT_MAX_FIELD_BYTES, DEFAULT_MAX_MULTIPART_PARTS, type MultipartLimits, readImageForm } from './multipart.ts';
import { openApiDocument } from './openapi.ts';
import { createOverloadGuard, type OverloadOptions, requestBodyUnfinished, requestSignal } from './overload.ts';

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
  /** Called with unexpected errors (never sent to clients). @defaultValue console.error */
  onInternalError?: (err: unknown) => void;
}

export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

const IMAGE_TYPES = /^(image\/[a-z0-9.+-]+|application\/octet-stream)$/i;

const topKSchema = z.coerce.number().int().min(1).max(1000);
const embedTextSchema = z.object({ texts: z.array(z.string()).min(1) }).strict();

/** Errors that shed load: their message is for the client, they carry Retry-After, and they are not server faults to log. */
const SHED = new Set(['OVERLOADED', 'TIMEOUT', 'RATE_LIMITED', 'CANCELLED']);

const mediaType = (c: Context) => (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();

/** Query or form values: repeated fields are taken verbatim; a single `labels` value is split on commas. */
function readClassifyParams(get: (k: string) => string[]): ClassifyRequest {
  const labelsRaw = get('labels');
  const labels =
    labelsRaw.length === 0 ? undefined : labelsRaw.length === 1 ? labelsRaw[0]!.split(',').map((s) => s.trim()).filter(Boolean) : labelsRaw;
  if (labelsRaw.length && !labels?.length) throw new ClipEdgeError('BAD_INPUT', 'labels is empty');
  const [labelSet, ...extraSets] = get('labelSet');
  if (extraSets.length) throw new ClipEdgeError('BAD_INPUT', 'give labelSet once');
  const templates = get('templates');
  const [topKRaw] = get('topK');
  let topK: number | undefined;
  if (topKRaw !== undefined) {
    const parsed = topKSchema.safeParse(topKRaw);
    if (!parsed.success) throw new ClipEdgeError('BAD_INPUT', `topK must be an integer from 1 to 1000, got "${topKRaw.slice(0, 20)}"`);
    topK = parsed.data;
  }
  return {
    ...(labels ? { labels } : {}),
    ...(labelSet !== undefined ? { labelSet } : {}),
    ...(templates.length ? { templates } : {}),
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

/** The HTTP API, identical on every runtime: Workers, Node, Deno, Bun. */
export function createClipApp(options: ClipAppOptions): Hono {
  const app = new Hono();
  let clipP: Promise<ClipEdge> | undefined;
  const getClip = (): Promise<ClipEdge> => {
    if (typeof options.clip !== 'function') return Promise.resolve(options.clip);
    const load = options.clip;
    clipP ??= load().catch((e) => {
      clipP = undefined; // a failed load is retried by the next request
      throw e;
    });
    return clipP;
  };
  const onInternal = options.onInternalError ?? ((e: unknown) => console.error('[clip-edge] internal error:', e));

  app.onError((thrown, c) => {
    // Whatever a request that timed out or lost its client still throws is that, not a fault.
    const signal = requestSignal(c);
    const err = signal?.aborted ? (isClipEdgeError(signal.reason) ? signal.reason : new ClipEdgeError('CANCELLED', 'the request was cancelled')) : thrown;
    if (isClipEdgeError(err)) {
      const status = STATUS_OF[err.code] ?? 500;
      const shed = SHED.has(err.code);
      if (status >= 500 && !shed && err.code !== 'BACKEND_UNAVAILABLE') onInternal(err);
      if (shed) c.header('Retry-After', String(Number(err.details?.retryAfterSeconds) || 1));
      // Answered before the body was read to its end: the runtime closes the socket rather than wait
      // for the rest (Node after a short drain), so say so instead of promising keep-alive.
      if (requestBodyUnfinished(c)) c.header('Connection', 'close');
      // Server-side model problems say what is wrong with the model, but never where it lives on disk.
      const message = status >= 500 && !shed ? `the model could not be used (${err.code})` : err.message;
      return c.json({ error: { code: err.code, message } }, status as 500);
    }
    onInternal(err);
    return c.json({ error: { code: 'INTERNAL', message: 'internal error' } }, 500);
  });
  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method.slice(0, 16)} ${quotedPath(new URL(c.req.url).pathname)}` } }, 404));

  if (options.headers) {
    const extra = options.headers;
    app.use('*', async (c, next) => {
      await next();
      for (const [k, v] of Object.entries(extra)) c.res.headers.set(k, v);
    });
  }
  if (options.corsOrigins !== undefined) {
    const origin = typeof options.corsOrigins === 'string' ? options.corsOrigins : [...options.corsOrigins];
    app.use('*', cors({ origin, allowHeaders: ['Authorization', 'Content-Type'], allowMethods: ['GET', 'POST', 'OPTIONS'], maxAge: 600 }));
  }

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  const keyed = typeof options.apiKey === 'string' ? options.apiKey.length > 0 : (options.apiKey?.length ?? 0) > 0;
  if (keyed) app.use('*', bearerAuth(options.apiKey!));
  const guard = createOverloadGuard({ onAbandoned: onInternal, ...options.overload, keyed });
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

  // No `servers` entry: OpenAPI then means the origin the document was fetched from. Copying the
  // request's Host header into it would echo whatever a client (or a poisoned cache key) sent.
  const openApi = openApiDocument();
  app.get('/openapi.json', (c) => c.json(openApi));
  app.get('/docs', (c) => c.html(docsPage()));

  app.get('/v1/models', async (c) => {
    const clip = await getClip();
    return c.json({ models: [clip.status()] });
  });

  app.get('/v1/load', (c) => c.json(guard.gauge()));

  app.get('/v1/label-sets', async (c) => {
    const clip = await getClip();
    return c.json({ labelSets: await clip.labelSetNames() });
  });

  // The bytes a request will hold: its declared length (multipart is parsed into a second copy).
  const pool = options.bodyMemoryBytes ? createBytePool(options.bodyMemoryBytes) : undefined;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const bodyMemory: typeof limit = async (c, next) => {
    if (!pool) return next();
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

  app.post('/v1/classify', limit, bodyMemory, async (c) => {
    const { image, params } = await readImageRequest(c, multipartLimits);
    const clip = await getClip();
    const r = await clip.classify(image, params, { signal: requestSignal(c) });
    return c.json({ ...r, timings: roundTimings(r.timings) });
  });

  app.post('/v1/embed/image', limit, bodyMemory, async (c) => {
    const { image } = await readImageRequest(c, multipartLimits, false);
    const clip = await getClip();
    const r = await clip.embedImage(image, { signal: requestSignal(c) });
    return c.json({ ...r, embedding: Array.from(r.embedding), dim: r.embedding.length, timings: roundTimings(r.timings) });
  });

  app.post('/v1/embed/text', limit, async (c) => {
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
    const parsed = embedTextSchema.safeParse(body);
    if (!parsed.success) {
      throw new ClipEdgeError('BAD_INPUT', `expected {"texts": [string, …]} with at least one text: ${parsed.error.issues[0]?.message ?? ''}`);
    }
    const clip = await getClip();
    const r = await clip.embedText(parsed.data.texts, { signal: requestSignal(c) });
    return c.json({
      ...r,
      embeddings: r.embeddings.map((e) => Array.from(e)),
      dim: r.embeddings[0]?.length ?? 0,
      timings: roundTimings(r.timings),
    });
  });

  return app;
}
