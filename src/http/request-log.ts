import type { MiddlewareHandler } from 'hono';

/**
 * One line per request, written when the response body has been sent:
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
    const body = c.res.body;
    if (!body) return write(line(0));
    // Counted as the body streams out, so the bytes are what was sent and nothing is buffered.
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
