import { z } from '@hono/zod-openapi';
import { PRECISIONS } from '../core/precision.ts';

/**
 * Every request and response shape of the HTTP API, defined once: the handlers parse with these,
 * their responses are typed by them, and /openapi.json is generated from them (routes.ts).
 */

// ---- requests -----------------------------------------------------------------------------------

const stringOrList = (description: string) =>
  z.union([z.string(), z.array(z.string())]).optional().openapi({ description, type: 'array', items: { type: 'string' } });

export const TopK = z.coerce
  .number({ error: 'topK must be an integer from 1 to 1000' })
  .int({ error: 'topK must be an integer from 1 to 1000' })
  .min(1, { error: 'topK must be an integer from 1 to 1000' })
  .max(1000, { error: 'topK must be an integer from 1 to 1000' });

/** classify's parameters, as query parameters or multipart fields (repeated fields become lists). */
export const ClassifyParams = z.object({
  labels: stringOrList('Class names: repeat the parameter (taken verbatim) or give one comma-separated value.'),
  labelSet: z.string({ error: 'give labelSet once' }).optional().openapi({ description: 'Name of a stored label set (see GET /v1/label-sets). Use instead of labels.' }),
  templates: stringOrList("Prompt templates with {} for the class name (repeat for several). Default: the label set's, or the model's."),
  topK: TopK.optional().openapi({ description: 'How many classes to return (default 5).', type: 'integer', minimum: 1, maximum: 1000 }),
});

export const EmbedTextBody = z.object({ texts: z.array(z.string()).min(1) }).strict();

const binary = z.string().openapi({ format: 'binary' });
export const ImageUpload = z.object({ image: binary }).openapi({ description: 'The image (JPEG, PNG or WebP) as the "image" field.' });
export const ClassifyUpload = ClassifyParams.extend({ image: binary });

// ---- responses ----------------------------------------------------------------------------------

export const ErrorBody = z
  .object({ error: z.object({ code: z.string().openapi({ example: 'BAD_INPUT' }), message: z.string() }) })
  .openapi('Error', { description: 'Every error: a code (see docs/api.md) and a message for people.' });

const Precision = z.enum(PRECISIONS as [string, ...string[]]).openapi('Precision');
const ms = z.number().nonnegative();

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

export const ClassifyResult = z
  .object({
    model: z.string(),
    variant: z.object({ vision: Precision, text: Precision.optional() }),
    backend: z.string(),
    labelSet: z.string().optional(),
    results: z.array(z.object({ label: z.string(), score: z.number().min(0).max(1).openapi({ description: 'softmax probability over all classes' }), logit: z.number() })),
    classes: z.object({ count: z.number().int().positive(), source: z.enum(['memory', 'prompt-cache', 'text-encoder']) }),
    image: ImageInfo,
    timings: Timings,
  })
  .openapi('ClassifyResult', { description: 'Best first.' });

export const ImageEmbedding = z
  .object({ model: z.string(), variant: Precision, backend: z.string(), embedding: z.array(z.number()), dim: z.number().int().positive(), image: ImageInfo, timings: Timings })
  .openapi('ImageEmbedding', { description: 'L2-normalised.' });

export const TextEmbeddings = z
  .object({
    model: z.string(),
    variant: Precision,
    backend: z.string(),
    embeddings: z.array(z.array(z.number())),
    dim: z.number().int().nonnegative(),
    truncated: z.array(z.boolean()).openapi({ description: 'Texts cut to the context length.' }),
    timings: z.object({ tokenizeMs: ms, inferenceMs: ms, totalMs: ms }),
  })
  .openapi('TextEmbeddings', { description: 'L2-normalised, one per text.' });

const TowerFile = z.object({ file: z.string(), bytes: z.number().int().nonnegative().optional() });
const Active = z.object({
  variant: Precision,
  loaded: z.boolean(),
  inPlace: z.literal(true).optional().openapi({ description: "The variant's ORT-format file is loaded in place (weights used from the streamed bytes)." }),
  parts: z.number().int().min(2).optional().openapi({ description: 'The vision tower runs split across this many part Workers, chained over service bindings.' }),
});
export const ModelStatus = z
  .object({
    id: z.string(),
    backend: z.string(),
    embedDim: z.number().int().positive(),
    contextLength: z.number().int().positive(),
    imageSize: z.object({ height: z.number().int().positive(), width: z.number().int().positive() }),
    logitScale: z.number(),
    variants: z.record(z.string(), z.object({ vision: TowerFile.optional(), text: TowerFile.optional() })),
    active: z.object({ vision: Active, text: Active.optional() }),
    license: z.string().optional(),
    description: z.string().optional(),
  })
  .openapi('ModelStatus');

export const Models = z.object({ models: z.array(ModelStatus) }).openapi('Models');
export const LabelSets = z.object({ labelSets: z.array(z.string()) }).openapi('LabelSets');
export const Health = z.object({ status: z.literal('ok') }).openapi('Health');

const count = z.number().int().nonnegative();
export const Load = z
  .object({ inFlight: count, maxInFlight: count, requestTimeoutMs: count, admitted: count, released: count, abandoned: count })
  .openapi('Load', { description: 'admitted − released = inFlight; abandoned: slots reclaimed from work that never ended.' });
