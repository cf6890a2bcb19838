import { configFromEnv, type ServiceConfig } from '../../http/config.ts';
import { createServiceApp } from '../fs/service.ts';

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
  // WASM by default: onnxruntime-node is a Node add-on.
  // The page at / too, as on Node (prebuilt in the installed package; a clone builds it with esbuild).
  const app = await createServiceApp(config, { backend: 'wasm', page: 'if-possible' });
  const server = Bun.serve({ port: config.port ?? 8787, hostname: config.host ?? '127.0.0.1', fetch: app.fetch });
  return { url: `http://${server.hostname}:${server.port}`, close: async () => void (await server.stop(true)) };
}
