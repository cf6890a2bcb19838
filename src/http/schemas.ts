import { z } from '@hono/zod-openapi';
import { TOP_K } from '../core/limits.ts';
import { PRECISIONS } from '../core/precision.ts';

/**
 * The request and response shapes that several route groups share. A shape one group alone uses
 * sits in that group's file (routes/*.ts), beside its routes and handlers; /openapi.json is
 * generated from them all.
 */

// ---- requests -----------------------------------------------------------------------------------

export const stringOrList = (description: string) =>
  z.union([z.string(), z.array(z.string())]).optional().openapi({ description, type: 'array', items: { type: 'string' } });

const TOP_K_RANGE = `topK must be an integer from 1 to ${TOP_K.max}`;
export const TopK = z.coerce.number({ error: TOP_K_RANGE }).int({ error: TOP_K_RANGE }).min(1, { error: TOP_K_RANGE }).max(TOP_K.max, { error: TOP_K_RANGE });
/** TopK as the OpenAPI document shows it (a query parameter coerced from text is still an integer). */
export const topKDoc = (description: string) => ({ description, type: 'integer' as const, minimum: 1, maximum: TOP_K.max });

export const binary = z.string().openapi({ format: 'binary' });
// ---- responses ----------------------------------------------------------------------------------

export const ErrorBody = z
  .object({ error: z.object({ code: z.string().openapi({ example: 'BAD_INPUT' }), message: z.string() }) })
  .openapi('Error', { description: 'Every error: a code (see docs/api.md) and a message for people.' });

export const Precision = z.enum(PRECISIONS as [string, ...string[]]).openapi('Precision');
export const ms = z.number().nonnegative();

export const Timings = z
  .object({ decodeMs: ms, preprocessMs: ms, inferenceMs: ms, textMs: ms.optional(), totalMs: ms })
  .openapi('Timings', { description: 'Milliseconds, rounded to µs.' });

export const ImageInfo = z
  .object({
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    decode: z.enum(['exact', 'dct-1/2', 'dct-1/4', 'dct-1/8']).openapi({ description: "exact (PIL's pixels) or DCT-scaled JPEG decoding (memory-capped runtimes)" }),
  })
  .openapi('ImageInfo', { description: 'The image as sent (upright size) and how it was decoded.' });

