import type { Context, Hono } from 'hono';
import type { ClipEdge } from '../../core/clip.ts';
import { createClipApp } from '../../http/app.ts';
import type { ServiceConfig } from '../../http/config.ts';
import { overloadOptionsOf } from '../../http/overload.ts';
import { createNodeClipEdge, DEFAULT_MODEL_DIR } from './create.ts';
import type { WebBuild } from '../../page-server/build.ts';
import { fsAdapter } from './adapter.ts';
import type { FsIndexOptions } from './search-index.ts';

export interface ServiceAppOptions {
  /** Backend when the config names none (Deno and Bun: `wasm`). */
  backend?: string;
  /**
   * Serve the mobile-web classifier page at `/` (and the model files it fetches under `/models/`).
   * Not served when an API key is set: the page's model downloads carry no key. `if-possible`: a
   * page that cannot be built here (Deno in a clone: esbuild does not run there) is left out with a warning.
   * @defaultValue false
   */
  page?: boolean | 'if-possible';
  /** A page build made beforehand (tests). */
  pageBuild?: WebBuild;
  /**
   * Enables search (POST /v1/index, /v1/search), opened for the loaded model: a LanceDB folder
   * (`{ db }`), or any driver (`{ open: (space) => createXIndex({ ...space, … }) }`). @defaultValue none
   */
  search?: FsIndexOptions;
}

/** The peer address as each server exposes it: @hono/node-server `env.incoming`, Deno.serve's `info.remoteAddr`, Bun's `server.requestIP`. */
const peerAddress = (c: Context): string | undefined => {
  const env = c.env as
    | { incoming?: { socket?: { remoteAddress?: string } }; remoteAddr?: { hostname?: string }; requestIP?: (r: Request) => { address?: string } | null }
    | undefined;
  return env?.incoming?.socket?.remoteAddress ?? env?.remoteAddr?.hostname ?? env?.requestIP?.(c.req.raw)?.address;
};

/**
 * The HTTP app for a service config, with the model loaded and its sessions created before the
 * server listens (so the first request is not slow). Shared by the Node, Deno and Bun servers.
 */
export async function createServiceApp(config: ServiceConfig, defaults: ServiceAppOptions = {}): Promise<Hono> {
  return (await createService(config, defaults)).app;
}

/** {@link createServiceApp}, with the ClipEdge behind it (a server closes it when it stops: its decode threads). */
export async function createService(config: ServiceConfig, defaults: ServiceAppOptions = {}): Promise<{ app: Hono; clip: ClipEdge }> {
  const { core: clip } = await createNodeClipEdge({
    model: config.model,
    backend: config.backend ?? defaults.backend,
    visionVariant: config.visionVariant,
    textVariant: config.textVariant,
    text: config.text,
    threads: config.threads,
    maxBatch: config.maxBatch,
    limits: config.limits,
    ...(typeof config.decodeBudgetMb === 'number' ? { imageDecode: { budgetBytes: Math.floor(config.decodeBudgetMb * 1024 * 1024) } } : {}),
    ...(config.decodeThreads !== undefined ? { decodeThreads: config.decodeThreads } : {}),
    ...(config.inferenceThread !== undefined ? { inferenceThread: config.inferenceThread } : {}),
    ...(config.threadNice !== undefined ? { threadNice: config.threadNice } : {}),
  });
  try {
    return { app: await serviceAppOf(clip, config, defaults), clip };
  } catch (e) {
    // Nothing else would end its threads (the inference thread holds the sessions warmup loaded).
    await clip.close();
    throw e;
  }
}

/** The app over a created ClipEdge: warmed up, its index opened, its page mounted. */
async function serviceAppOf(clip: ClipEdge, config: ServiceConfig, defaults: ServiceAppOptions): Promise<Hono> {
  await clip.warmup();
  const openIndex = fsAdapter.index?.({ search: defaults.search });
  const app = createClipApp({
    clip,
    apiKey: config.apiKey,
    corsOrigins: config.corsOrigins,
    maxBodyBytes: config.maxBodyBytes,
    overload: overloadOptionsOf(config, { clientKey: peerAddress }),
    requestLog: config.requestLog ?? true,
    ...(openIndex ? { index: await openIndex(clip) } : {}),
  });
  if (defaults.page && !config.apiKey) {
    // Imported here so that API-only servers (tests) never load esbuild.
    const { createPageRoutes } = await import('../../page-server/routes.ts');
    try {
      app.route('/', await createPageRoutes({ clip, modelDir: config.model ?? DEFAULT_MODEL_DIR, ...(defaults.pageBuild ? { build: defaults.pageBuild } : {}) }));
    } catch (e) {
      if (defaults.page !== 'if-possible') throw e;
      // A clone has no prebuilt page and builds it with esbuild, whose JS API does not run under
      // Deno (measured: Deno 2.9, esbuild 0.28): the API is served without the page, and says so.
      console.warn(`[clip-edge] the page at / is not served: esbuild could not build it here (${(e as Error).message.split('\n')[0]}); the installed package serves its prebuilt page, and \`clip-edge serve\` on Node builds it in a clone`);
    }
  }
  return app;
}
