import { configFromEnv, type ServiceConfig } from '../../http/config.ts';
import { createService } from '../fs/service.ts';

declare const Bun: {
  serve(options: { port: number; hostname: string; fetch: (req: Request) => Response | Promise<Response>; maxRequestBodySize?: number }): {
    port: number;
    hostname: string;
    stop(closeActive?: boolean): Promise<void> | void;
  };
  env: Record<string, string | undefined>;
};

/** Starts the HTTP API with `Bun.serve`; `close()` stops it and ends the kit's threads. */
export async function serveBun(config: ServiceConfig = configFromEnv(Bun.env)) {
  // WASM by default: onnxruntime-node is a Node add-on.
  // The page at / too, as on Node (prebuilt in the installed package; a clone builds it with esbuild).
  const { app, clip } = await createService(config, { backend: 'wasm', page: 'if-possible' });
  // The kit holds worker threads (decode, inference): a server that cannot listen (EADDRINUSE)
  // closes it, or the process could not exit; close() ends both.
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({ port: config.port ?? 8787, hostname: config.host ?? '127.0.0.1', fetch: app.fetch });
  } catch (e) {
    await clip.close();
    throw e;
  }
  return {
    url: `http://${server.hostname}:${server.port}`,
    close: async () => {
      await server.stop(true);
      await clip.close();
    },
  };
}
