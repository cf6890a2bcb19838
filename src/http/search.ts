// The search routes of the HTTP API, mounted by createClipApp on the same Hono app (same auth,
// limits, errors): POST /v1/index, DELETE /v1/index/{id}, POST /v1/search.
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { ClipEdge } from '../core/clip.ts';
import { ClipEdgeError, isClipEdgeError } from '../core/errors.ts';
import { requestSignal } from './overload.ts';
import { createSearchService, type IndexItem, type SearchRequest, type SearchService } from '../search/service.ts';
import type { VectorIndex } from '../search/types.ts';

/** Most images in one POST /v1/index request (the body limit applies too). */
export const MAX_INDEX_BATCH = 64;

const IMAGE_TYPES = /^(image\/[a-z0-9.+-]+|application\/octet-stream)$/i;
const mediaType = (c: Context) => (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
const bad = (m: string, cause?: unknown) => new ClipEdgeError('BAD_INPUT', m, cause === undefined ? undefined : { cause });

const metadataSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));
const filterSchema = z.record(z.string(), z.unknown());
const topKSchema = z.coerce.number().int().min(1).max(1000);
const textSearchSchema = z
  .object({ text: z.string(), topK: topKSchema.optional(), filter: filterSchema.optional(), includeMetadata: z.boolean().optional() })
  .strict();

const parseJson = (raw: string, what: string): unknown => {
  try {
    return JSON.parse(raw);
  } catch (cause) {
    throw bad(`${what} is not valid JSON`, cause);
  }
};
const zodMessage = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');

function readMetadata(raw: string | undefined): IndexItem['metadata'] {
  if (raw === undefined) return undefined;
  const parsed = metadataSchema.safeParse(parseJson(raw, 'metadata'));
  if (!parsed.success) throw bad(`metadata must be a JSON object of strings, numbers and booleans (${zodMessage(parsed.error)})`);
  return parsed.data;
}

function readSearchParams(get: (k: string) => string | undefined): SearchRequest {
  const r: SearchRequest = {};
  const topK = get('topK');
  if (topK !== undefined) {
    const p = topKSchema.safeParse(topK);
    if (!p.success) throw bad(`topK must be an integer from 1 to 1000, got "${topK.slice(0, 20)}"`);
    r.topK = p.data;
  }
  const filter = get('filter');
  if (filter !== undefined) {
    const p = filterSchema.safeParse(parseJson(filter, 'filter'));
    if (!p.success) throw bad('filter must be a JSON object');
    r.filter = p.data as SearchRequest['filter'];
  }
  return r;
}

async function formOf(c: Context): Promise<FormData> {
  try {
    return await c.req.raw.formData();
  } catch (cause) {
    if (isClipEdgeError(cause)) throw cause;
    throw bad('the multipart body could not be parsed', cause);
  }
}

const fileBytes = async (v: FormDataEntryValue, what: string): Promise<Uint8Array> => {
  if (typeof v === 'string') throw bad(`${what} must be a file, not text`);
  const b = new Uint8Array(await v.arrayBuffer());
  if (!b.byteLength) throw bad(`${what} is empty (0 bytes)`);
  return b;
};

/** Raw image body + ?id=&metadata=, or multipart with repeated image/id/metadata fields (matched by position). */
async function readIndexItems(c: Context): Promise<IndexItem[]> {
  const type = mediaType(c);
  const url = new URL(c.req.url);
  if (type === 'multipart/form-data') {
    const form = await formOf(c);
    const images = form.getAll('image');
    if (!images.length) throw bad('the multipart body has no "image" field');
    if (images.length > MAX_INDEX_BATCH) throw bad(`at most ${MAX_INDEX_BATCH} images per request, got ${images.length}`);
    const ids = form.getAll('id');
    const metas = form.getAll('metadata');
    if (ids.length && ids.length !== images.length) throw bad(`give one "id" per image (${images.length} images, ${ids.length} ids) or none`);
    if (metas.length && metas.length !== images.length) throw bad(`give one "metadata" per image (${images.length} images, ${metas.length} metadata) or none`);
    return Promise.all(
      images.map(async (img, i) => {
        const id = ids[i];
        const meta = metas[i];
        if (id !== undefined && typeof id !== 'string') throw bad('"id" must be text');
        if (meta !== undefined && typeof meta !== 'string') throw bad('"metadata" must be JSON text');
        return { image: await fileBytes(img, `image ${i + 1}`), ...(id !== undefined ? { id } : {}), ...(meta !== undefined ? { metadata: readMetadata(meta)! } : {}) };
      }),
    );
  }
  if (!IMAGE_TYPES.test(type)) {
    throw new ClipEdgeError('UNSUPPORTED_MEDIA_TYPE', `send the image as the body with an image/* content type, or "image" fields of multipart/form-data (got "${type || 'none'}")`);
  }
  const image = new Uint8Array(await c.req.arrayBuffer());
  if (!image.byteLength) throw bad('the request body is empty: send the image bytes');
  const id = url.searchParams.get('id') ?? undefined;
  const metadata = readMetadata(url.searchParams.get('metadata') ?? undefined);
  return [{ image, ...(id !== undefined ? { id } : {}), ...(metadata ? { metadata } : {}) }];
}

const round = (x: number) => Math.round(x * 1000) / 1000;

export interface SearchRouteDeps {
  getClip: () => Promise<ClipEdge>;
  /** The index, or a function that opens it for the loaded model on first use; absent: search is not enabled. */
  index?: VectorIndex | ((clip: ClipEdge) => Promise<VectorIndex>);
  /** The app's body-limit middleware. */
  limit: MiddlewareHandler;
}

export function mountSearchRoutes(app: Hono, deps: SearchRouteDeps): void {
  let serviceP: Promise<SearchService> | undefined;
  const service = (): Promise<SearchService> => {
    const source = deps.index;
    if (!source) {
      return Promise.reject(new ClipEdgeError('NOT_FOUND', 'search is not enabled on this server: start it with an index (clip-edge serve --db <dir>)'));
    }
    serviceP ??= (async () => {
      const clip = await deps.getClip();
      return createSearchService(clip, typeof source === 'function' ? await source(clip) : source);
    })().catch((e) => {
      serviceP = undefined; // retried by the next request
      throw e;
    });
    return serviceP;
  };

  app.post('/v1/index', deps.limit, async (c) => {
    const items = await readIndexItems(c);
    const s = await service();
    const r = await s.add(items, { signal: requestSignal(c) });
    return c.json({ model: s.index.space.model, ids: r.ids, count: await s.index.count(), timings: { embedMs: round(r.timings.embedMs), upsertMs: round(r.timings.upsertMs) } });
  });

  app.delete('/v1/index/:id', async (c) => {
    const id = c.req.param('id');
    const s = await service();
    if (!(await s.remove(id))) throw new ClipEdgeError('NOT_FOUND', `no image with id "${id.slice(0, 64)}" in the index`);
    return c.json({ deleted: id });
  });

  app.post('/v1/search', deps.limit, async (c) => {
    const type = mediaType(c);
    const signal = requestSignal(c);
    let result;
    if (type === 'application/json') {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch (cause) {
        if (isClipEdgeError(cause)) throw cause;
        throw bad('the body is not valid JSON', cause);
      }
      const p = textSearchSchema.safeParse(body);
      if (!p.success) throw bad(`expected {"text": string, "topK"?: number, "filter"?: object}: ${zodMessage(p.error)}`);
      const { text, ...request } = p.data;
      const s = await service();
      result = await s.searchText(text, request as SearchRequest, { signal });
    } else if (type === 'multipart/form-data') {
      const form = await formOf(c);
      const file = form.get('image');
      if (file === null) throw bad('the multipart body has no "image" field');
      const image = await fileBytes(file, 'the "image" field');
      const get = (k: string) => {
        const v = form.get(k);
        return typeof v === 'string' ? v : undefined;
      };
      const s = await service();
      result = await s.searchImage(image, readSearchParams(get), { signal });
    } else if (IMAGE_TYPES.test(type)) {
      const image = new Uint8Array(await c.req.arrayBuffer());
      if (!image.byteLength) throw bad('the request body is empty: send the image bytes, or {"text": …} as JSON');
      const url = new URL(c.req.url);
      const s = await service();
      result = await s.searchImage(image, readSearchParams((k) => url.searchParams.get(k) ?? undefined), { signal });
    } else {
      throw new ClipEdgeError('UNSUPPORTED_MEDIA_TYPE', `send {"text": …} as application/json, or an image (image/* body or multipart "image" field) (got "${type || 'none'}")`);
    }
    const t = result.timings;
    return c.json({ ...result, timings: { embedMs: round(t.embedMs), searchMs: round(t.searchMs), totalMs: round(t.totalMs) } });
  });
}
