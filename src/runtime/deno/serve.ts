import { configFromEnv, type ServiceConfig } from '../../http/config.ts';
import { createService } from '../fs/service.ts';

declare const Deno: {
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (req: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void>; finished: Promise<void> };
  env: { toObject(): Record<string, string> };
};

/** Starts the HTTP API with `Deno.serve` (the model folder is read through Deno's node:fs); `close()` stops it and ends the kit's threads. */
export async function serveDeno(config: ServiceConfig = configFromEnv(Deno.env.toObject())) {
  // WASM by default: onnxruntime-node is a Node add-on.
  // The page at / too, as on Node (prebuilt in the installed package; a clone builds it with esbuild).
  const { app, clip } = await createService(config, { backend: 'wasm', page: 'if-possible' });
  // The kit holds worker threads (decode, inference): a server that cannot listen closes it, or
  // the process could not exit; close() ends both.
  try {
    return await new Promise<{ url: string; close(): Promise<void> }>((resolve, reject) => {
      try {
        const server = Deno.serve(
          {
            port: config.port ?? 8787,
            hostname: config.host ?? '127.0.0.1',
            onListen: ({ hostname, port }) => resolve({ url: `http://${hostname}:${port}`, close: () => server.shutdown().then(() => clip.close()) }),
          },
          app.fetch,
        );
      } catch (e) {
        reject(e as Error); // AddrInUse, PermissionDenied: thrown by Deno.serve itself
      }
    });
  } catch (e) {
    await clip.close();
    throw e;
  }
}
