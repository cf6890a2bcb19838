import type { Hono } from 'hono';
import { createClipApp } from '../../core/app.ts';
import type { ServiceConfig } from '../../core/config.ts';
import { createNodeClipEdge, DEFAULT_MODEL_DIR } from './create.ts';
import type { WebBuild } from './page/build.ts';

export interface ServiceAppOptions {
  /** Backend when the config names none (Deno and Bun: `wasm`). */
  backend?: string;
  /**
   * Serve the mobile-web classifier page at `/` (and the model files it fetches under `/models/`).
   * Not served when an API key is set: the page's model downloads carry no key. @defaultValue false
   */
  page?: boolean;
  /** A page build made beforehand (tests). */
  pageBuild?: WebBuild;
}

/**
 * The HTTP app for a service config, with the model loaded and its sessions created before the
 * server listens (so the first request is not slow). Shared by the Node, Deno and Bun servers.
 */
export async function createServiceApp(config: ServiceConfig, defaults: ServiceAppOptions = {}): Promise<Hono> {
  const clip = await createNodeClipEdge({
    model: config.model,
    backend: config.backend ?? defaults.backend,
    visionVariant: config.visionVariant,
    textVariant: config.textVariant,
    text: config.text,
    threads: config.threads,
    limits: config.limits,
  });
  await clip.warmup();
  const app = createClipApp({ clip, apiKey: config.apiKey, corsOrigins: config.corsOrigins, maxBodyBytes: config.maxBodyBytes });
  if (defaults.page && !config.apiKey) {
    // Imported here so that API-only servers (Deno, Bun, tests) never load esbuild.
    const { createPageRoutes } = await import('./page/routes.ts');
    app.route('/', await createPageRoutes({ clip, modelDir: config.model ?? DEFAULT_MODEL_DIR, ...(defaults.pageBuild ? { build: defaults.pageBuild } : {}) }));
  }
  return app;
}
