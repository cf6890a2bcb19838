// POST /v1/classify: zero-shot classification of one image.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { BlankEnv } from 'hono/types';
import type { ClassifyRequest } from '../../core/clip.ts';
import { ClipEdgeError } from '../../core/errors.ts';
import { splitLabels } from '../../core/label-sets.ts';
import { readImageRequest } from '../body.ts';
import { requestSignal } from '../overload.ts';
import { binary, ImageInfo, Precision, stringOrList, Timings, TopK, topKDoc } from '../schemas.ts';
import { TOP_K } from '../../core/limits.ts';
import { errors, IMAGE_ERRORS, imageBody, json, V1_ERRORS } from './docs.ts';
import { badInput, type RouteContext, roundTimings, routeGroup } from './group.ts';

/** classify's parameters, as query parameters or multipart fields (repeated fields become lists). */
export const ClassifyParams = z.object({
  labels: stringOrList('Class names: repeat the parameter (taken verbatim) or give one comma-separated value.'),
  labelSet: z.string({ error: 'give labelSet once' }).optional().openapi({ description: 'Name of a stored label set (see GET /v1/label-sets). Use instead of labels.' }),
  templates: stringOrList("Prompt templates with {} for the class name (repeat for several). Default: the label set's, or the model's."),
  topK: TopK.optional().openapi(topKDoc(`How many classes to return (default ${TOP_K.classify}).`)),
});

export const ClassifyUpload = ClassifyParams.extend({ image: binary });

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

export const classifyRoute = createRoute({
  method: 'post',
  path: '/v1/classify',
  operationId: 'classify',
  summary: 'Zero-shot classification of one image',
  request: { query: ClassifyParams, body: imageBody(ClassifyUpload) },
  responses: {
    200: json(ClassifyResult, 'Top-k classes'),
    ...errors(...V1_ERRORS, ...IMAGE_ERRORS, 'TOO_MANY_LABELS', 'UNKNOWN_LABEL_SET', 'TEXT_ENCODER_UNAVAILABLE', 'TEXT_ENCODER_DOWN'),
  },
});

/** Query or form values: repeated fields are taken verbatim; a single `labels` value is split on commas. */
export function readClassifyParams(get: (k: string) => string[]): ClassifyRequest {
  const fields = Object.fromEntries(
    Object.keys(ClassifyParams.shape).map((k) => [k, get(k)] as const).filter(([, v]) => v.length).map(([k, v]) => [k, v.length === 1 ? v[0] : v]),
  );
  const parsed = ClassifyParams.safeParse(fields);
  if (!parsed.success) throw badInput(parsed.error);
  const { labels: labelsRaw, labelSet, templates, topK } = parsed.data;
  const labels = typeof labelsRaw === 'string' ? splitLabels(labelsRaw) : labelsRaw;
  if (labelsRaw !== undefined && !labels?.length) throw new ClipEdgeError('BAD_INPUT', 'labels is empty');
  return {
    ...(labels ? { labels } : {}),
    ...(labelSet !== undefined ? { labelSet } : {}),
    ...(templates !== undefined ? { templates: typeof templates === 'string' ? [templates] : templates } : {}),
    ...(topK !== undefined ? { topK } : {}),
  };
}

export function classifyRoutes(ctx: RouteContext): OpenAPIHono<BlankEnv> {
  return routeGroup().openapi({ ...classifyRoute, middleware: ctx.imageBody }, async (c) => {
    const { image, get } = await readImageRequest(c, ctx.multipartLimits);
    const params = readClassifyParams(get);
    const clip = await ctx.getClip();
    const r = await clip.classify(image, params, { signal: requestSignal(c) });
    return c.json({ ...r, timings: roundTimings(r.timings) }, 200);
  });
}
