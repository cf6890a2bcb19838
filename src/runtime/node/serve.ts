import { serve as honoServe, type ServerType } from '@hono/node-server';
import type { ServiceConfig } from '../../http/config.ts';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../http/overload.ts';
import { createService, type ServiceAppOptions } from '../fs/service.ts';

/** Time a client has to send its request headers (less when the request deadline + 5 s is shorter). */
export const HEADERS_TIMEOUT_MS = 15_000;
/** Node's own default request timeout, kept when the app's deadline is off. */
const NODE_REQUEST_TIMEOUT_MS = 300_000;

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
  const { app, clip } = await createService(config, { page: true, ...options });
  const hostname = config.host ?? '127.0.0.1';
  // Backstops behind the app's own deadline (which answers with JSON first): slow headers and
  // bodies cannot hold a socket for Node's default 5 minutes. Node only looks for expired ones every
  // connectionsCheckingInterval (30 s by default, which made a 15 s headers timeout fire at 20–43 s):
  // checked every second, the timeouts are what they say.
  const deadline = config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const requestTimeout = deadline > 0 ? deadline + 5_000 : NODE_REQUEST_TIMEOUT_MS;
  const serverOptions = { headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout), requestTimeout, connectionsCheckingInterval: 1_000 };
  return new Promise((resolve, reject) => {
    // A port in use (or not ours to take): the start fails with it, and the threads it made end.
    const failed = (e: Error) => void clip.close().finally(() => reject(e));
    const server = honoServe({ fetch: app.fetch, hostname, port: config.port ?? 8787, serverOptions }, (info) => {
      server.off('error', failed);
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}`,
        server,
        close: () => new Promise<void>((r) => server.close(() => r())).then(() => clip.close()),
      });
    });
    server.once('error', failed);
  });
}
