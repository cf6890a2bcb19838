import { serve as honoServe, type ServerType } from '@hono/node-server';
import type { ServiceConfig } from '../../http/config.ts';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../http/overload.ts';
import { createServiceApp, type ServiceAppOptions } from './service.ts';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
  server: ServerType;
}

/**
 * Starts the HTTP API on Node (Deno and Bun have their own `serve`), with the browser page at `/`
 * unless `page: false` or an API key is set. Loads the model before listening.
 */
export async function serveNode(config: ServiceConfig = {}, options: ServiceAppOptions = {}): Promise<RunningServer> {
  const app = await createServiceApp(config, { page: true, ...options });
  const hostname = config.host ?? '127.0.0.1';
  return new Promise((resolve) => {
    const server = honoServe({ fetch: app.fetch, hostname, port: config.port ?? 8787 }, (info) => {
      // Backstops behind the app's own deadline (which answers with JSON first): slow headers and
      // bodies cannot hold a socket for Node's default 5 minutes.
      const http = server as unknown as { headersTimeout: number; requestTimeout: number };
      http.headersTimeout = 15_000;
      const deadline = config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
      if (deadline > 0) http.requestTimeout = deadline + 5_000;
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}`,
        server,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
