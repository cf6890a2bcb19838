// POST /v1/embed/image and /v1/embed/text: L2-normalised embeddings.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { BlankEnv } from 'hono/types';
import { ClipEdgeError } from '../../core/errors.ts';
import { mediaType, readImageRequest, readJson } from '../body.ts';
import { requestSignal } from '../overload.ts';
import { binary, ImageInfo, ms, Precision, Timings } from '../schemas.ts';
import { BODY_ERRORS, documented, errors, IMAGE_ERRORS, imageBody, json, V1_ERRORS } from './docs.ts';
import { badInput, type RouteContext, roundTimings, routeGroup } from './group.ts';

export const EmbedTextBody = z.object({ texts: z.array(z.string()).min(1) }).strict();
export const ImageUpload = z.object({ image: binary }).openapi({ description: 'The image (JPEG, PNG or WebP) as the "image" field.' });

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

export const embedImageRoute = createRoute({
  method: 'post',
  path: '/v1/embed/image',
  operationId: 'embedImage',
  summary: 'L2-normalised image embedding',
  request: { body: imageBody(ImageUpload) },
  responses: { 200: json(ImageEmbedding, 'Embedding'), ...errors(...V1_ERRORS, ...IMAGE_ERRORS) },
});

export const embedTextRoute = createRoute({
  method: 'post',
  path: '/v1/embed/text',
  operationId: 'embedText',
  summary: 'L2-normalised text embeddings',
  request: {
    body: { required: true, content: { 'application/json': { schema: documented(EmbedTextBody) } } },
  },
  responses: { 200: json(TextEmbeddings, 'Embeddings'), ...errors(...V1_ERRORS, ...BODY_ERRORS, 'TEXT_ENCODER_UNAVAILABLE', 'TEXT_ENCODER_DOWN') },
});

export function embedRoutes(ctx: RouteContext): OpenAPIHono<BlankEnv> {
  const app = routeGroup();
  app.openapi({ ...embedImageRoute, middleware: ctx.imageBody }, async (c) => {
    const { image } = await readImageRequest(c, ctx.multipartLimits);
    const clip = await ctx.getClip();
    const r = await clip.embedImage(image, { signal: requestSignal(c) });
    return c.json({ ...r, embedding: Array.from(r.embedding), dim: r.embedding.length, timings: roundTimings(r.timings) }, 200);
  });

  app.openapi({ ...embedTextRoute, middleware: ctx.jsonBody }, async (c) => {
    if (mediaType(c) !== 'application/json') {
      throw new ClipEdgeError('UNSUPPORTED_MEDIA_TYPE', `send {"texts": [...]} as application/json (got "${mediaType(c) || 'none'}")`);
    }
    const parsed = EmbedTextBody.safeParse(await readJson(c));
    if (!parsed.success) throw badInput(parsed.error, 'expected {"texts": [string, …]} with at least one text: ');
    const clip = await ctx.getClip();
    const r = await clip.embedText(parsed.data.texts, { signal: requestSignal(c) });
    const embeddings = r.embeddings.map((e) => Array.from(e));
    return c.json({ ...r, embeddings, truncated: [...r.truncated], dim: embeddings[0]?.length ?? 0, timings: roundTimings(r.timings) }, 200);
  });
  return app;
}
