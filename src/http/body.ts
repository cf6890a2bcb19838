// Reading request bodies, the same way in every route: the media type, a raw image, JSON, and the
// byte pool that bounds how many bodies are held at once.
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ClipEdgeError, isClipEdgeError } from '../core/errors.ts';
import type { DeferredImageBytes } from '../core/image/decoder.ts';
import type { createBytePool } from './byte-pool.ts';
import { type MultipartLimits, readImageForm } from './multipart.ts';
import { requestSignal } from './overload.ts';

/** A raw image body: any image/* type, or application/octet-stream (the bytes say which format). */
export const IMAGE_TYPES = /^(image\/[a-z0-9.+-]+|application\/octet-stream)$/i;

/** The request's media type, lower case, without parameters ('' when absent). */
export const mediaType = (c: Context): string => (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();

/** The raw body as an image; an empty body is BAD_INPUT with `emptyMessage`. */
export async function readRawImage(c: Context, emptyMessage: string): Promise<Uint8Array> {
  const image = new Uint8Array(await c.req.arrayBuffer());
  if (!image.byteLength) throw new ClipEdgeError('BAD_INPUT', emptyMessage);
  return image;
}

/**
 * The image of a classify/embed request — the raw `image/*` body, or the "image" field of a
 * multipart form — and a reader of its other parameters (query, then form fields; repeated values kept).
 * A raw body is not read here: the decoder reads it when the image's decode turn comes (Workers: a
 * body waiting behind other decodes is then not held in the isolate; elsewhere it is read at once).
 * A multipart form is read now (its fields are the request's parameters).
 */
export async function readImageRequest(c: Context, limits: MultipartLimits): Promise<{ image: Uint8Array | DeferredImageBytes; get: (k: string) => string[] }> {
  const type = mediaType(c);
  const url = new URL(c.req.url);
  if (type === 'multipart/form-data') {
    const { image, fields } = await readImageForm(c.req.raw, limits);
    if (image.byteLength === 0) throw new ClipEdgeError('BAD_INPUT', 'the image is empty (0 bytes)');
    return { image, get: (k) => [...url.searchParams.getAll(k), ...(fields.get(k) ?? [])] };
  }
  if (!IMAGE_TYPES.test(type)) {
    throw new ClipEdgeError(
      'UNSUPPORTED_MEDIA_TYPE',
      `send the image as the body with an image/* content type, or as the "image" field of multipart/form-data (got "${type || 'none'}")`,
    );
  }
  const empty = 'the request body is empty: send the image bytes';
  if (c.req.header('content-length') === '0') throw new ClipEdgeError('BAD_INPUT', empty);
  return { image: () => readRawImage(c, empty), get: (k) => url.searchParams.getAll(k) };
}

/** The body parsed as JSON (a limit error while reading stays what it is; bad JSON is BAD_INPUT). */
export async function readJson(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch (cause) {
    if (isClipEdgeError(cause)) throw cause;
    throw new ClipEdgeError('BAD_INPUT', 'the body is not valid JSON', { cause });
  }
}

/**
 * Request bodies share a byte pool (Workers: CLIP_EDGE_BODY_MEMORY_MB). A request holds its declared
 * length (multipart is parsed into a second copy) until it ends; one that could never fit is 413.
 * `limit` (the body limit) runs once the bytes are reserved: it reads a body of unknown length whole.
 */
export function bodyMemory(pool: ReturnType<typeof createBytePool>, maxBody: number, limit: MiddlewareHandler): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header('content-length');
    const declared = header === undefined ? NaN : Number(header);
    const copies = mediaType(c) === 'multipart/form-data' ? 2 : 1;
    const known = Number.isSafeInteger(declared) && declared >= 0;
    if (known && declared > maxBody) return limit(c, next); // refused by its length, without waiting for the pool
    // A body of unknown length (chunked) holds the whole pool: it runs alone, capped by the body limit
    // and by the pool (its copies included).
    const bytes = known ? Math.min(declared, maxBody) * copies : pool.total;
    if (bytes > pool.total) {
      throw new ClipEdgeError('PAYLOAD_TOO_LARGE', `this server holds at most ${(pool.total / 2 ** 20).toFixed(1)} MB of request bodies at once; the request needs ${(bytes / 2 ** 20).toFixed(1)} MB: send a smaller image`);
    }
    const release = await pool.acquire(bytes, requestSignal(c));
    try {
      await (known || maxBody * copies <= pool.total ? limit : unknownLengthLimit(Math.floor(pool.total / copies)))(c, next);
    } finally {
      release();
    }
  };
}

/** The body limit of a body of unknown length that would outgrow the pool. */
const unknownLengthLimit = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw new ClipEdgeError('PAYLOAD_TOO_LARGE', `this server holds at most ${(maxSize / 2 ** 20).toFixed(1)} MB of a request body sent without a Content-Length: send a smaller image, or its length`);
    },
  });
