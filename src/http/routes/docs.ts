import { z } from '@hono/zod-openapi';
import type { ClipEdgeErrorCode } from '../../core/errors.ts';
import { DEFAULT_BACKEND_RETRY_AFTER_SECONDS, RETRY_AFTER_CODES, STATUS_OF } from '../errors.ts';
import { ErrorBody } from '../schemas.ts';

/**
 * How the route groups document their routes: JSON responses, the error responses of a list of
 * codes (statuses from STATUS_OF), bodies the handlers parse themselves. /openapi.json is generated
 * from each group's createRoute() definitions.
 */

export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

/** Load shedding (SHED_CODES: 429 RATE_LIMITED; 503 OVERLOADED, TIMEOUT, TEXT_ENCODER_DOWN; 499 CANCELLED) and 503 BACKEND_UNAVAILABLE say when to come back (RETRY_AFTER_CODES). */
const RETRY_AFTER = z.object({
  'Retry-After': z.string().openapi({
    description: `Seconds to wait before retrying. BACKEND_UNAVAILABLE: what is left of the inference thread's restart back-off after a crash, else ${DEFAULT_BACKEND_RETRY_AFTER_SECONDS}`,
    example: '1',
  }),
});

/** The error responses of a route: each status with the codes that produce it (from STATUS_OF), each code once. */
export function errors(...codes: ClipEdgeErrorCode[]) {
  const byStatus = new Map<number, ClipEdgeErrorCode[]>();
  for (const code of new Set(codes)) byStatus.set(STATUS_OF[code], [...(byStatus.get(STATUS_OF[code]) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, cs]) => {
      const retry = cs.some((c) => RETRY_AFTER_CODES.has(c));
      return [status, { ...json(ErrorBody, cs.join(', ')), ...(retry ? { headers: RETRY_AFTER } : {}) }];
    }),
  ) as Record<number, ReturnType<typeof json<typeof ErrorBody>>>;
}

/** Every /v1 route: auth, load shedding, a client that went away, model and backend faults. */
export const V1_ERRORS = ['UNAUTHORIZED', 'RATE_LIMITED', 'OVERLOADED', 'TIMEOUT', 'BACKEND_UNAVAILABLE', 'CANCELLED', 'INTERNAL', 'MODEL_NOT_FOUND', 'MODEL_INVALID', 'INTEGRITY_MISMATCH'] as const;
export const BODY_ERRORS = ['BAD_INPUT', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'] as const;
export const IMAGE_ERRORS = [...BODY_ERRORS, 'CORRUPT_IMAGE', 'IMAGE_TOO_LARGE', 'UNSUPPORTED_IMAGE', 'VISION_TOWER_DOWN'] as const;

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

export const imageBody = (multipart: z.ZodType) => ({
  required: true,
  description: 'The image (JPEG, PNG or WebP) as the raw body (image/* or application/octet-stream), or as the "image" field of a multipart form.',
  // Documentation only (not zod objects here): the handler reads raw and multipart bodies itself,
  // streaming under the body limit, and parses the fields with the same schemas.
  content: { ...RAW_IMAGE, 'multipart/form-data': { schema: documented(multipart) } },
});
