// The Worker the benchmarks run in workerd (`wrangler dev --local`, never deployed): the production
// entry (src/runtime/workers/worker.ts) for every route, plus /bench/* routes that put model files
// into the local R2 bucket and time ORT-web's vision forward pass the way the Worker runs it
// (precompiled wasm, one thread). workerd's clock only moves on I/O, so the client times each
// /bench/run request from outside and subtracts the round trip of /bench/ping.
import type { SessionLike } from '../../src/core/backend.ts';
import type { WorkersEnv } from '../../src/runtime/workers/bindings.ts';
import { ortWasmMemoryBytes, workersWasmBackend } from '../../src/runtime/workers/ort.ts';
import worker from '../../src/runtime/workers/worker.ts';

const backend = workersWasmBackend();
let session: SessionLike | undefined;
let pixels: Float32Array | undefined;

export default {
  async fetch(request: Request, env: WorkersEnv & { MODELS: NonNullable<WorkersEnv['MODELS']> }, ctx: unknown): Promise<Response> {
    const url = new URL(request.url);
    if (!url.pathname.startsWith('/bench/')) return worker.fetch(request, env, ctx);
    try {
      switch (url.pathname) {
        case '/bench/ping':
          return Response.json({});
        case '/bench/text-info': {
          // The text Worker's own counters (calls and texts this isolate served), over the TEXT binding.
          const text = env.TEXT as unknown as { info(): Promise<unknown> } | undefined;
          if (!text) return Response.json({ error: 'no TEXT binding' }, { status: 404 });
          return Response.json(await text.info());
        }
        case '/bench/put':
          await env.MODELS.put(url.searchParams.get('key')!, await request.arrayBuffer());
          return Response.json({});
        case '/bench/session': {
          await session?.release?.();
          await backend.init();
          session = await backend.createSession(new Uint8Array(await request.arrayBuffer()));
          const size = Number(url.searchParams.get('size') ?? 224);
          pixels = new Float32Array(3 * size * size);
          let seed = 7;
          for (let i = 0; i < pixels.length; i++) pixels[i] = ((seed = (seed * 16807) % 2147483647) / 2147483647) * 4 - 2;
          return Response.json({ ortWasmBytes: ortWasmMemoryBytes() });
        }
        case '/bench/run': {
          const size = Math.round(Math.sqrt(pixels!.length / 3));
          await session!.run({ pixel_values: backend.tensor('float32', pixels!, [1, 3, size, size]) });
          return Response.json({});
        }
        default:
          return new Response('not found', { status: 404 });
      }
    } catch (e) {
      return Response.json({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }, { status: 500 });
    }
  },
};
