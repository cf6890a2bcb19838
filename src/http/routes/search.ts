// POST /v1/index, DELETE /v1/index/{id}, POST /v1/search: the search routes, on the same app as the
// others (same auth, limits, errors, OpenAPI document).
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { BlankEnv } from 'hono/types';
import { ClipEdgeError } from '../../core/errors.ts';
import { IMAGE_TYPES, mediaType, readJson, readRawImage } from '../body.ts';
import { createSearchService, type IndexItem, type SearchRequest, type SearchService } from '../../search/service.ts';
import { type MultipartLimits, readImagesForm } from '../multipart.ts';
import { requestSignal } from '../overload.ts';
import { BODY_ERRORS, documented, errors, IMAGE_ERRORS, json, RAW_IMAGE, V1_ERRORS } from './docs.ts';
import { type RouteContext, routeGroup } from './group.ts';
import { TopK, topKDoc } from '../schemas.ts';
import { TOP_K } from '../../core/limits.ts';
import { VECTORIZE_LIMITS } from '../../search/drivers/cloudflare-vectorize-binding.ts';

/** Most images in one POST /v1/index request (the body limit applies too). */
export const MAX_INDEX_BATCH = 64;

const bad = (m: string, cause?: unknown) => new ClipEdgeError('BAD_INPUT', m, cause === undefined ? undefined : { cause });
const binary = z.string().openapi({ type: 'string', format: 'binary' });

const MetadataSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).openapi('Metadata');
const FilterSchema = z.record(z.string(), z.unknown()).openapi('Filter', {
  description: 'Vectorize\'s filter language on the index\'s declared fields: {"field": value} (equality) or {"field": {"$eq"|"$ne"|"$lt"|"$lte"|"$gt"|"$gte": value, "$in"|"$nin": [values]}}; fields are ANDed.',
});
const TopKSchema = z.coerce.number().int().min(1).max(TOP_K.max);
const TextSearchBody = z.object({ text: z.string(), topK: TopKSchema.optional(), filter: FilterSchema.optional(), includeMetadata: z.boolean().optional() }).strict();
const Match = z.object({ id: z.string(), score: z.number().openapi({ description: 'cosine similarity' }), metadata: MetadataSchema.optional() }).openapi('Match');
const SearchResultSchema = z
  .object({ model: z.string(), matches: z.array(Match), timings: z.object({ embedMs: z.number(), searchMs: z.number(), totalMs: z.number() }) })
  .openapi('SearchResult');
const Indexed = z.object({ model: z.string(), ids: z.array(z.string()), count: z.number().int(), timings: z.object({ embedMs: z.number(), upsertMs: z.number() }) }).openapi('Indexed');
const SEARCH_ERRORS = ['NOT_FOUND', 'INDEX_MISMATCH', 'INDEX_UNAVAILABLE'] as const;

export const indexRoute = createRoute({
  method: 'post',
  path: '/v1/index',
  operationId: 'indexImages',
  summary: 'Embed images and add them to the search index (id defaults to the sha256 of the bytes; an existing id is replaced)',
  request: {
    query: z.object({
      id: z.string().optional().openapi({ description: 'Id of the image (raw body only), at most 64 bytes' }),
      metadata: z.string().optional().openapi({ description: 'Metadata as a JSON object of strings, numbers and booleans (raw body only)' }),
    }),
    body: {
      required: true,
      description: `One image as the raw body, or up to ${MAX_INDEX_BATCH} "image" files of a multipart form with optional "id" and "metadata" fields in the same order. A bad image fails the request and nothing is written.`,
      content: {
        ...RAW_IMAGE,
        'multipart/form-data': { schema: documented(z.object({ image: z.array(binary), id: z.array(z.string()).optional(), metadata: z.array(z.string()).optional() })) },
      },
    },
  },
  responses: { 200: json(Indexed, 'Indexed'), ...errors(...V1_ERRORS, ...IMAGE_ERRORS, ...SEARCH_ERRORS) },
});

export const deleteRoute = createRoute({
  method: 'delete',
  path: '/v1/index/{id}',
  operationId: 'deleteImage',
  summary: 'Remove an image from the search index',
  request: { params: z.object({ id: z.string() }) },
  responses: { 200: json(z.object({ deleted: z.string() }), 'Deleted'), ...errors(...V1_ERRORS, 'BAD_INPUT', ...SEARCH_ERRORS) },
});

export const searchRoute = createRoute({
  method: 'post',
  path: '/v1/search',
  operationId: 'search',
  summary: 'Search the index by text ({"text": …}) or by an image (more like this one)',
  request: {
    query: z.object({ topK: TopK.optional().openapi(topKDoc(`Matches (image queries; default ${TOP_K.search}; Vectorize allows ${VECTORIZE_LIMITS.maxTopKWithMetadata} with metadata)`)), filter: z.string().optional().openapi({ description: 'A Filter as JSON (image queries)' }) }),
    body: {
      required: true,
      content: {
        'application/json': { schema: documented(TextSearchBody) },
        ...RAW_IMAGE,
        'multipart/form-data': { schema: documented(z.object({ image: binary, topK: TopK.optional(), filter: z.string().optional() })) },
      },
    },
  },
  responses: { 200: json(SearchResultSchema, 'Matches, best first'), ...errors(...V1_ERRORS, ...IMAGE_ERRORS, ...BODY_ERRORS, ...SEARCH_ERRORS, 'TEXT_ENCODER_UNAVAILABLE', 'TEXT_ENCODER_DOWN') },
});

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
  const value = parseJson(raw, 'metadata');
  const parsed = MetadataSchema.safeParse(value);
  if (!parsed.success) throw bad(`metadata must be a JSON object of strings, numbers and booleans (${zodMessage(parsed.error)})`);
  return value as IndexItem['metadata']; // as parsed: zod's copy drops a "__proto__" key, which the index refuses
}

function readSearchParams(get: (k: string) => string | undefined): SearchRequest {
  const r: SearchRequest = {};
  const topK = get('topK');
  if (topK !== undefined) {
    const p = TopKSchema.safeParse(topK);
    if (!p.success) throw bad(`topK must be an integer from 1 to ${TOP_K.max}, got "${topK.slice(0, 20)}"`);
    r.topK = p.data;
  }
  const filter = get('filter');
  if (filter !== undefined) {
    const value = parseJson(filter, 'filter');
    if (!FilterSchema.safeParse(value).success) throw bad('filter must be a JSON object');
    r.filter = value as SearchRequest['filter']; // as parsed (see readMetadata)
  }
  return r;
}

/** Raw image body + ?id=&metadata=, or multipart with repeated image/id/metadata fields (matched by position). */
async function readIndexItems(c: Context, limits: MultipartLimits): Promise<IndexItem[]> {
  const type = mediaType(c);
  if (type === 'multipart/form-data') {
    const { images, fields } = await readImagesForm(c.req.raw, limits, MAX_INDEX_BATCH);
    const ids = fields.get('id') ?? [];
    const metas = fields.get('metadata') ?? [];
    if (ids.length && ids.length !== images.length) throw bad(`give one "id" per image (${images.length} images, ${ids.length} ids) or none`);
    if (metas.length && metas.length !== images.length) throw bad(`give one "metadata" per image (${images.length} images, ${metas.length} metadata) or none`);
    return images.map((image, i) => {
      if (!image.byteLength) throw bad(`image ${i + 1} is empty (0 bytes)`);
      const metadata = readMetadata(metas[i]);
      return { image, ...(ids[i] !== undefined ? { id: ids[i] } : {}), ...(metadata ? { metadata } : {}) };
    });
  }
  if (!IMAGE_TYPES.test(type)) {
    throw new ClipEdgeError('UNSUPPORTED_MEDIA_TYPE', `send the image as the body with an image/* content type, or "image" fields of multipart/form-data (got "${type || 'none'}")`);
  }
  const image = await readRawImage(c, 'the request body is empty: send the image bytes');
  const url = new URL(c.req.url);
  const id = url.searchParams.get('id') ?? undefined;
  const metadata = readMetadata(url.searchParams.get('metadata') ?? undefined);
  return [{ image, ...(id !== undefined ? { id } : {}), ...(metadata ? { metadata } : {}) }];
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** The search service over the app's index, made on first use (a failed open is retried by the next request). */
function searchServiceOf(ctx: RouteContext): () => Promise<SearchService> {
  let serviceP: Promise<SearchService> | undefined;
  return () => {
    const source = ctx.index;
    if (!source) {
      return Promise.reject(new ClipEdgeError('NOT_FOUND', 'search is not enabled on this server: start it with an index (clip-edge serve --db <dir>)'));
    }
    serviceP ??= (async () => {
      const clip = await ctx.getClip();
      return createSearchService(clip, typeof source === 'function' ? await source(clip) : source);
    })().catch((e) => {
      serviceP = undefined; // retried by the next request
      throw e;
    });
    return serviceP;
  };
}

export function searchRoutes(ctx: RouteContext): OpenAPIHono<BlankEnv> {
  const app = routeGroup();
  const service = searchServiceOf(ctx);

  app.openapi({ ...indexRoute, middleware: ctx.imageBody }, async (c) => {
    const items = await readIndexItems(c, ctx.multipartLimits);
    const s = await service();
    const r = await s.add(items, { signal: requestSignal(c) });
    return c.json({ model: s.index.space.model, ids: r.ids, count: await s.index.count(), timings: { embedMs: round(r.timings.embedMs), upsertMs: round(r.timings.upsertMs) } }, 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const id = c.req.param('id');
    const s = await service();
    if (!(await s.remove(id))) throw new ClipEdgeError('NOT_FOUND', `no image with id "${id.slice(0, 64)}" in the index`);
    return c.json({ deleted: id }, 200);
  });

  app.openapi({ ...searchRoute, middleware: ctx.imageBody }, async (c) => {
    const type = mediaType(c);
    const signal = requestSignal(c);
    let result;
    if (type === 'application/json') {
      const body = await readJson(c);
      const p = TextSearchBody.safeParse(body);
      if (!p.success) throw bad(`expected {"text": string, "topK"?: number, "filter"?: object}: ${zodMessage(p.error)}`);
      const { text, ...request } = p.data;
      if (request.filter) request.filter = (body as { filter: typeof request.filter }).filter; // as parsed (see readMetadata)
      result = await (await service()).searchText(text, request as SearchRequest, { signal });
    } else if (type === 'multipart/form-data') {
      const { images, fields } = await readImagesForm(c.req.raw, ctx.multipartLimits, 1);
      result = await (await service()).searchImage(images[0]!, readSearchParams((k) => fields.get(k)?.[0]), { signal });
    } else if (IMAGE_TYPES.test(type)) {
      const image = await readRawImage(c, 'the request body is empty: send the image bytes, or {"text": …} as JSON');
      const url = new URL(c.req.url);
      result = await (await service()).searchImage(image, readSearchParams((k) => url.searchParams.get(k) ?? undefined), { signal });
    } else {
      throw new ClipEdgeError('UNSUPPORTED_MEDIA_TYPE', `send {"text": …} as application/json, or an image (image/* body or multipart "image" field) (got "${type || 'none'}")`);
    }
    const t = result.timings;
    return c.json({ ...result, timings: { embedMs: round(t.embedMs), searchMs: round(t.searchMs), totalMs: round(t.totalMs) } }, 200);
  });
  return app;
}
