// The Workers app: the same Hono app as on every runtime, plus the browser page from static assets.
import type { Hono } from 'hono';
import type { ClipEdge } from '../../core/clip.ts';
import { createClipApp } from '../../http/app.ts';
import { overloadOptionsOf } from '../../http/overload.ts';
import { PAGE_HEADERS } from '../../http/page-headers.ts';
import type { WorkersEnv } from './bindings.ts';
import { workersConfig } from './config.ts';
import { createWorkersClipEdge, type WorkersClipEdgeOptions } from './create.ts';
import { cloudflareRateLimiter } from './rate-limit.ts';
import { workersAdapter } from './adapter.ts';

/**
 * The same Hono app as on every runtime. The kit is created on the first request that needs it
 * and kept for the isolate's life (a failed load is retried by the next request). `clip` hands it
 * a kit made elsewhere instead (the Worker entry shares one with its queue consumer).
 */
export function createWorkersApp(env: WorkersEnv, options: WorkersClipEdgeOptions = {}, clip?: () => Promise<ClipEdge>): Hono {
  const cfg = workersConfig(env);
  const openIndex = workersAdapter.index?.({ env, cfg });
  const app = createClipApp({
    clip: clip ?? (async () => (await createWorkersClipEdge(env, options)).core),
    ...(openIndex ? { index: openIndex } : {}),
    ...(cfg.apiKey ? { apiKey: cfg.apiKey } : {}),
    ...(cfg.corsOrigins ? { corsOrigins: cfg.corsOrigins } : {}),
    ...(cfg.maxBodyBytes ? { maxBodyBytes: cfg.maxBodyBytes } : {}),
    bodyMemoryBytes: cfg.bodyMemoryBytes,
    pollGrants: workersAdapter.pollGrants ?? false,
    // Limits here are per isolate; the Rate Limiting binding, when bound, counts network-wide.
    overload: overloadOptionsOf(cfg, {
      clientKey: (c) => c.req.header('cf-connecting-ip'),
      ...(env.RATE_LIMITER ? { rateLimiter: cloudflareRateLimiter(env.RATE_LIMITER, cfg.ratePeriodSeconds) } : {}),
    }),
    requestLog: cfg.requestLog ?? true, // one console.log line per request: Workers Logs / wrangler tail
  });
  // The browser page (`npm run build:web -- --out src/runtime/workers/public`): any other GET is a
  // static asset, sent cross-origin isolated; what the assets lack stays the API's JSON 404.
  const assets = env.ASSETS;
  if (assets) {
    app.get('*', async (c) => {
      if (c.req.path.startsWith('/v1/')) return c.notFound();
      const res = await assets.fetch(c.req.raw);
      if (res.status === 404) return c.notFound();
      const out = new Response(res.body, res);
      for (const [k, v] of Object.entries(PAGE_HEADERS)) out.headers.set(k, v);
      return out;
    });
  }
  return app;
}
