import { createRoute, z } from '@hono/zod-openapi';
import type { ClipEdgeErrorCode } from '../../core/errors.ts';
import { STATUS_OF } from '../errors.ts';
import * as S from '../schemas.ts';

/**
 * The routes with their request and response schemas: the handlers in app.ts are typed by these,
 * and /openapi.json is generated from them. Add a route here first, then its handler.
 */

export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

/** Load shedding (429 RATE_LIMITED; 503 OVERLOADED, TIMEOUT) says when to come back. */
const RETRY_AFTER = z.object({ 'Retry-After': z.string().openapi({ description: 'Seconds to wait before retrying', example: '1' }) });

/** The error responses of a route: each status with the codes that produce it (from STATUS_OF), each code once. */
export function errors(...codes: ClipEdgeErrorCode[]) {
  const byStatus = new Map<number, ClipEdgeErrorCode[]>();
  for (const code of new Set(codes)) byStatus.set(STATUS_OF[code], [...(byStatus.get(STATUS_OF[code]) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, cs]) => {
      const shed = cs.some((c) => c === 'OVERLOADED' || c === 'TIMEOUT' || c === 'RATE_LIMITED');
      return [status, { ...json(S.ErrorBody, cs.join(', ')), ...(shed ? { headers: RETRY_AFTER } : {}) }];
    }),
  ) as Record<number, ReturnType<typeof json<typeof S.ErrorBody>>>;
}

/** Every /v1 route: auth, load shedding, a client that went away, model and backend faults. */
export const V1_ERRORS = ['UNAUTHORIZED', 'RATE_LIMITED', 'OVERLOADED', 'TIMEOUT', 'BACKEND_UNAVAILABLE', 'CANCELLED', 'INTERNAL', 'MODEL_NOT_FOUND', 'MODEL_INVALID', 'INTEGRITY_MISMATCH'] as const;
export const BODY_ERRORS = ['BAD_INPUT', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'] as const;
export const IMAGE_ERRORS = [...BODY_ERRORS, 'CORRUPT_IMAGE', 'IMAGE_TOO_LARGE', 'UNSUPPORTED_IMAGE'] as const;

/** A zod schema as a plain JSON Schema for a body the handler parses itself (no validator is attached). */
export function documented(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown> & { properties?: Record<string, unknown> };
  if (json.properties?.image) json.properties.image = { type: 'string', format: 'binary' };
  return json;
}

/** A raw image body: any image/* type, or application/octet-stream (the bytes say which format). */
export const RAW_IMAGE = {
  'image/*': { schema: { type: 'string' as const, format: 'binary' } },
  'application/octet-stream': { schema: { type: 'string' as const, format: 'binary' } },
};

const imageBody = (multipart: z.ZodType) => ({
  required: true,
  description: 'The image (JPEG, PNG or WebP) as the raw body (image/* or application/octet-stream), or as the "image" field of a multipart form.',
  // Documentation only (not zod objects here): the handler reads raw and multipart bodies itself,
  // streaming under the body limit, and parses the fields with the same schemas.
  content: { ...RAW_IMAGE, 'multipart/form-data': { schema: documented(multipart) } },
});

export const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  operationId: 'health',
  summary: 'Liveness (no API key needed)',
  security: [],
  // The route takes no input and needs no key, so the app itself refuses nothing here; the HTTP
  // server in front of it (Node, Deno, Bun, workerd) still answers 431 before the app runs.
  responses: { 200: json(S.Health, 'OK'), 431: { description: 'Request header fields too large: answered by the HTTP server, before the app (no JSON body)' } },
});

export const modelsRoute = createRoute({
  method: 'get',
  path: '/v1/models',
  operationId: 'listModels',
  summary: 'The loaded model: variants, sizes, backend in use',
  responses: { 200: json(S.Models, 'Models'), ...errors(...V1_ERRORS) },
});

export const loadRoute = createRoute({
  method: 'get',
  path: '/v1/load',
  operationId: 'getLoad',
  summary: 'The in-flight limit of this process / isolate: slots held now, the limit, slots admitted and released since start',
  responses: { 200: json(S.Load, 'The in-flight gauge'), ...errors(...V1_ERRORS) },
});

export const labelSetsRoute = createRoute({
  method: 'get',
  path: '/v1/label-sets',
  operationId: 'listLabelSets',
  summary: 'Names of stored label sets',
  responses: { 200: json(S.LabelSets, 'Label set names'), ...errors(...V1_ERRORS) },
});

export const classifyRoute = createRoute({
  method: 'post',
  path: '/v1/classify',
  operationId: 'classify',
  summary: 'Zero-shot classification of one image',
  request: { query: S.ClassifyParams, body: imageBody(S.ClassifyUpload) },
  responses: {
    200: json(S.ClassifyResult, 'Top-k classes'),
    ...errors(...V1_ERRORS, ...IMAGE_ERRORS, 'TOO_MANY_LABELS', 'UNKNOWN_LABEL_SET', 'TEXT_ENCODER_UNAVAILABLE', 'TEXT_ENCODER_DOWN'),
  },
});

export const embedImageRoute = createRoute({
  method: 'post',
  path: '/v1/embed/image',
  operationId: 'embedImage',
  summary: 'L2-normalised image embedding',
  request: { body: imageBody(S.ImageUpload) },
  responses: { 200: json(S.ImageEmbedding, 'Embedding'), ...errors(...V1_ERRORS, ...IMAGE_ERRORS) },
});

export const embedTextRoute = createRoute({
  method: 'post',
  path: '/v1/embed/text',
  operationId: 'embedText',
  summary: 'L2-normalised text embeddings',
  request: {
    body: { required: true, content: { 'application/json': { schema: documented(S.EmbedTextBody) } } },
  },
  responses: { 200: json(S.TextEmbeddings, 'Embeddings'), ...errors(...V1_ERRORS, ...BODY_ERRORS, 'TEXT_ENCODER_UNAVAILABLE', 'TEXT_ENCODER_DOWN') },
});
