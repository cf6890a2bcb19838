import { z } from '@hono/zod-openapi';
import { PRECISIONS } from '../core/precision.ts';

/**
 * The request and response shapes that several route groups share. A shape one group alone uses
 * sits in that group's file (routes/*.ts), beside its routes and handlers; /openapi.json is
 * generated from them all.
 */

// ---- requests -----------------------------------------------------------------------------------

export const stringOrList = (description: string) =>
  z.union([z.string(), z.array(z.string())]).optional().openapi({ description, type: 'array', items: { type: 'string' } });

export const TopK = z.coerce
  .number({ error: 'topK must be an integer from 1 to 1000' })
  .int({ error: 'topK must be an integer from 1 to 1000' })
  .min(1, { error: 'topK must be an integer from 1 to 1000' })
  .max(1000, { error: 'topK must be an integer from 1 to 1000' });

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

