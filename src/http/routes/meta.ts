// GET /healthz (no key needed, mounted before auth), GET /v1/models, /v1/load, /v1/label-sets.
import { createRoute, z } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { BlankEnv } from 'hono/types';
import type { ClipEdge } from '../../core/types.ts';
import { Precision } from '../schemas.ts';
import { errors, json, V1_ERRORS } from './docs.ts';
import { type RouteContext, routeGroup } from './group.ts';

const TowerFile = z.object({ file: z.string(), bytes: z.number().int().nonnegative().optional() });
const Active = z.object({
  variant: Precision,
  loaded: z.boolean().openapi({ description: 'The session exists and can run: false before the first load, and after a crash of the inference thread until the next call re-creates it.' }),
  inPlace: z.literal(true).optional().openapi({ description: "The variant's ORT-format file is loaded in place (weights used from the streamed bytes)." }),
  parts: z.number().int().min(2).optional().openapi({ description: 'The vision tower runs split across this many part Workers, chained over service bindings.' }),
});
export const ModelStatus = z
  .object({
    id: z.string(),
    backend: z.string(),
    backendState: z.enum(['ready', 'restarting', 'down']).openapi({
      description:
        "ready; restarting: the inference thread crashed (Node, Deno, Bun), its sessions are gone (`active.*.loaded` false) and the next call starts a new one, not before `restartInMs`; down: it crashed too often and stays down until the process restarts (/healthz answers 503).",
    }),
    restartInMs: z.number().int().nonnegative().optional().openapi({ description: "With backendState 'restarting': ms left of the restart's back-off (0: the next call restarts it at once)." }),
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
export const Health = z
  .object({
    status: z.enum(['ok', 'restarting']).openapi({ description: 'restarting: the inference thread crashed and is started again on the next call (the process recovers by itself; still 200).' }),
    restartInMs: z.number().int().nonnegative().optional().openapi({ description: "With 'restarting': ms left of the restart's back-off." }),
  })
  .openapi('Health');

const count = z.number().int().nonnegative();
export const Load = z
  .object({ inFlight: count, maxInFlight: count, requestTimeoutMs: count, admitted: count, released: count, abandoned: count })
  .openapi('Load', { description: 'admitted − released = inFlight; abandoned: slots reclaimed from work that never ended.' });

export const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  operationId: 'health',
  summary: 'Liveness (no API key needed)',
  security: [],
  // The route takes no input and needs no key, so the app itself refuses nothing here; the HTTP
  // server in front of it (Node, Deno, Bun, workerd) still answers 431 before the app runs.
  responses: {
    200: json(Health, 'OK'),
    ...errors('BACKEND_UNAVAILABLE'),
    431: { description: 'Request header fields too large: answered by the HTTP server, before the app (no JSON body)' } },
});

export const modelsRoute = createRoute({
  method: 'get',
  path: '/v1/models',
  operationId: 'listModels',
  summary: 'The loaded model: variants, sizes, backend in use',
  responses: { 200: json(Models, 'Models'), ...errors(...V1_ERRORS) },
});

export const loadRoute = createRoute({
  method: 'get',
  path: '/v1/load',
  operationId: 'getLoad',
  summary: 'The in-flight limit of this process / isolate: slots held now, the limit, slots admitted and released since start',
  responses: { 200: json(Load, 'The in-flight gauge'), ...errors(...V1_ERRORS) },
});

export const labelSetsRoute = createRoute({
  method: 'get',
  path: '/v1/label-sets',
  operationId: 'listLabelSets',
  summary: 'Names of stored label sets',
  responses: { 200: json(LabelSets, 'Label set names'), ...errors(...V1_ERRORS) },
});

/**
 * /healthz: mounted before the API key check and the load shedding. 503 BACKEND_UNAVAILABLE once
 * the loaded kit's backend is down for good (Backend.down: Node's inference thread crashed too
 * often), so that a liveness probe restarts the process; it never loads the kit itself.
 */
export function healthRoutes(loaded: () => ClipEdge | undefined = () => undefined): OpenAPIHono<BlankEnv> {
  return routeGroup().openapi(healthRoute, (c) => {
    const backend = loaded()?.backend;
    if (backend?.down) throw backend.down;
    // A crash it restarts from is still alive (200: a liveness probe must not kill a process that
    // recovers by itself), but says so.
    const restarting = backend?.restarting;
    return c.json(restarting ? { status: 'restarting' as const, restartInMs: Math.ceil(restarting.retryAfterMs) } : { status: 'ok' as const }, 200);
  });
}

/** The model, the in-flight gauge and the label sets. */
export function metaRoutes(ctx: RouteContext): OpenAPIHono<BlankEnv> {
  const app = routeGroup();
  app.openapi(modelsRoute, async (c) => c.json({ models: [(await ctx.getClip()).status()] }, 200));
  app.openapi(loadRoute, (c) => c.json(ctx.guard.gauge(), 200));
  app.openapi(labelSetsRoute, async (c) => c.json({ labelSets: await (await ctx.getClip()).labelSetNames() }, 200));
  return app;
}
