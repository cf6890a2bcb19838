// What every route group gets from the app, and the helpers they share: one sub-app per group
// (Hono `app.route()`), each declaring its routes, schemas, body limits and errors beside its
// handlers. The app (../app.ts) assembles the groups; nothing lists their paths a second time.
import { OpenAPIHono, type z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { BlankEnv } from 'hono/types';
import type { ClipEdge } from '../../core/clip.ts';
import { ClipEdgeError } from '../../core/errors.ts';
import type { VectorIndex } from '../../search/types.ts';
import { bodyMemory } from '../body.ts';
import { createBytePool } from '../byte-pool.ts';
import type { MultipartLimits } from '../multipart.ts';
import type { OverloadGuard } from '../overload.ts';

/** What the route groups read: the kit, the resolved limits, the search index, the in-flight gauge. */
export interface RouteContext {
  getClip: () => Promise<ClipEdge>;
  multipartLimits: MultipartLimits;
  /** Middleware of a route whose body is an image (or images): the body limit, then the body-memory pool when there is one. */
  imageBody: MiddlewareHandler[];
  /** Middleware of a route whose body is JSON: the body limit. */
  jsonBody: MiddlewareHandler[];
  index?: VectorIndex | ((clip: ClipEdge) => Promise<VectorIndex>);
  guard: OverloadGuard;
}

/** A zod failure as the one BAD_INPUT error (its first issue; messages that name their field are kept whole). */
export function badInput(error: z.ZodError, prefix = ''): ClipEdgeError {
  const issue = error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  const message = issue?.message ?? 'invalid input';
  return new ClipEdgeError('BAD_INPUT', `${prefix}${field && !message.startsWith(field) ? `${field}: ` : ''}${message}`, { cause: error });
}

/** A route group's sub-app: query and path validation failures are BAD_INPUT like every other bad request. */
export function routeGroup(): OpenAPIHono<BlankEnv> {
  return new OpenAPIHono<BlankEnv>({
    defaultHook: (result) => {
      if (!result.success) throw badInput(result.error);
    },
  });
}

/**
 * The body middleware every POST route takes from the kind of body it reads: the limit (enforced
 * while streaming), and for image bodies the shared byte pool (Workers: CLIP_EDGE_BODY_MEMORY_MB).
 */
export function bodyMiddleware(maxBodyBytes: number, bodyMemoryBytes: number | undefined, pollGrants = false): Pick<RouteContext, 'imageBody' | 'jsonBody'> {
  const limit = bodyLimit({
    maxSize: maxBodyBytes,
    onError: () => {
      throw new ClipEdgeError('PAYLOAD_TOO_LARGE', `the request body is larger than ${maxBodyBytes} bytes`);
    },
  });
  // With a pool, it reserves before the limit reads anything: hono's bodyLimit reads a body of
  // unknown length (chunked) whole before passing it on, so such bodies were held without a reservation.
  const imageBody = bodyMemoryBytes ? [bodyMemory(createBytePool(bodyMemoryBytes, { pollGrants }), maxBodyBytes, limit)] : [limit];
  return { imageBody, jsonBody: [limit] };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Timings rounded to µs, as every response gives them. */
export const roundTimings = <T extends object>(t: T): T =>
  Object.fromEntries(Object.entries(t).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v])) as T;
