import type { MiddlewareHandler } from 'hono';

/**
 * One line per request (a streamed body of unknown length: once it has been sent):
 * `POST /v1/classify 200 12.4ms 512B` (method, path, status, milliseconds, response bytes).
 * The query string is left out: it can hold labels a client considers private.
 */
export function requestLog(write: (line: string) => void = (line) => console.log(line)): MiddlewareHandler {
  return async (c, next) => {
    const t0 = performance.now();
    await next();
    const { method } = c.req;
    const path = new URL(c.req.url).pathname;
    const status = c.res.status;
    const line = (bytes: number) => `${method} ${path} ${status} ${(performance.now() - t0).toFixed(1)}ms ${bytes}B`;
    const length = c.res.headers.get('content-length');
    if (length !== null) return write(line(Number(length)));
    const body = c.res.body;
    if (!body) return write(line(0));
    if (/^(application\/json|text\/)/.test(c.res.headers.get('content-type') ?? '')) {
      // Built in memory (c.json, c.html): measured on a clone and c.res left as it is, so the
      // runtime still sends a Content-Length (replacing c.res would turn the answer chunked).
      return write(line((await c.res.clone().arrayBuffer()).byteLength));
    }
    // A stream of unknown length (chunked anyway): counted as it goes out, nothing buffered.
    let bytes = 0;
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        bytes += chunk.byteLength;
        out.enqueue(chunk);
      },
      flush: () => write(line(bytes)),
    });
    c.res = new Response(body.pipeThrough(counter), c.res);
  };
}
