import type { Hono } from 'hono';
import { createClipApp } from '../../core/app.ts';
import type { ServiceConfig } from '../../core/config.ts';
import { createNodeClipEdge } from './create.ts';

/**
 * The HTTP app for a service config, with the model loaded and its sessions created before the
 * server listens (so the first request is not slow). Shared by the Node, Deno and Bun servers.
 */
export async function createServiceApp(config: ServiceConfig, defaults: { backend?: string } = {}): Promise<Hono> {
  const clip = await createNodeClipEdge({
    model: config.model,
    backend: config.backend ?? defaults.backend,
    visionVariant: config.visionVariant,
    textVariant: config.textVariant,
    text: config.text,
    threads: config.threads,
    maxBatch: config.maxBatch,
    limits: config.limits,
  });
  await clip.warmup();
  return createClipApp({ clip, apiKey: config.apiKey, corsOrigins: config.corsOrigins, maxBodyBytes: config.maxBodyBytes });
}
