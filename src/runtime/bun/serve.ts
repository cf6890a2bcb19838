import { createClipApp } from '../../core/app.ts';
import { configFromEnv, type ServiceConfig } from '../../core/config.ts';
import { createNodeClipEdge } from '../node/create.ts';

declare const Bun: {
  serve(options: { port: number; hostname: string; fetch: (req: Request) => Response | Promise<Response>; maxRequestBodySize?: number }): {
    port: number;
    hostname: string;
    stop(closeActive?: boolean): Promise<void> | void;
  };
  env: Record<string, string | undefined>;
};

/** Starts the HTTP API with `Bun.serve`. */
export async function serveBun(config: ServiceConfig = configFromEnv(Bun.env)) {
  const clip = await createNodeClipEdge({
    model: config.model,
    backend: config.backend ?? 'wasm',
    visionVariant: config.visionVariant,
    textVariant: config.textVariant,
    text: config.text,
    threads: config.threads,
    limits: config.limits,
  });
  await clip.warmup();
  const app = createClipApp({ clip, apiKey: config.apiKey, corsOrigins: config.corsOrigins, maxBodyBytes: config.maxBodyBytes });
  const server = Bun.serve({ port: config.port ?? 8787, hostname: config.host ?? '127.0.0.1', fetch: app.fetch });
  return { url: `http://${server.hostname}:${server.port}`, close: async () => void (await server.stop(true)) };
}
