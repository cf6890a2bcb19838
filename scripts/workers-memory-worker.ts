// A measuring Worker for scripts/workers-memory.ts (never deployed): the production kit
// (createWorkersClipEdge over R2/KV) plus routes that load a configuration, classify an
// image and report ORT's wasm memory and the image codec's wasm memory.
import jpegWasm from '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm';
import type { ClipEdge } from '../src/core/clip.ts';
import type { WorkersEnv } from '../src/runtime/workers/bindings.ts';
import { createWorkersClipEdge } from '../src/runtime/workers/create.ts';
import { ortWasmMemoryBytes, workersWasmBackend } from '../src/runtime/workers/ort.ts';

interface MozJpeg {
  decode(data: Uint8Array, preserveOrientation: boolean): { width: number; height: number } | null;
  HEAPU8: Uint8Array;
}

let clip: ClipEdge | undefined;

/** mozjpeg's wasm memory after decoding `bytes` in a fresh instance (what the core's decoder holds at its peak). */
async function codecMemory(bytes: Uint8Array): Promise<number> {
  const factory = (await import('@jsquash/jpeg/codec/dec/mozjpeg_dec.js')).default as unknown as (o: object) => Promise<MozJpeg>;
  const m = await factory({
    noInitialRun: true,
    instantiateWasm: (imports: WebAssembly.Imports, receive: (i: WebAssembly.Instance) => void) => {
      const instance = new WebAssembly.Instance(jpegWasm, imports);
      receive(instance);
      return instance.exports;
    },
  });
  m.decode(bytes, false);
  return m.HEAPU8.byteLength;
}

export default {
  async fetch(request: Request, env: WorkersEnv & { MODELS: NonNullable<WorkersEnv['MODELS']> }): Promise<Response> {
    const url = new URL(request.url);
    const q = (k: string) => url.searchParams.get(k) ?? '';
    try {
      if (url.pathname === '/put') {
        await env.MODELS.put(q('key'), await request.arrayBuffer());
        return Response.json({ ok: true });
      }
      if (url.pathname === '/load') {
        // prepacking=true measures ORT's default (weights pre-packed: more memory); the Worker turns it off.
        clip = await createWorkersClipEdge(
          { ...env, CLIP_EDGE_VARIANT: q('variant'), CLIP_EDGE_TEXT: q('text'), CLIP_EDGE_MAX_PIXELS: '100000000' },
          q('prepacking') === 'true' ? { backends: [workersWasmBackend({ prepacking: true })] } : {},
        );
        await clip.warmup();
        return Response.json({ ortWasm: ortWasmMemoryBytes(), variant: clip.status().active });
      }
      if (url.pathname === '/classify') {
        const bytes = new Uint8Array(await request.arrayBuffer());
        const r = await clip!.classify(bytes, { labelSet: q('labelSet'), topK: 1 });
        return Response.json({ ortWasm: ortWasmMemoryBytes(), image: r.image, top: r.results[0] });
      }
      if (url.pathname === '/codec') {
        return Response.json({ codecWasm: await codecMemory(new Uint8Array(await request.arrayBuffer())) });
      }
      return new Response('not found', { status: 404 });
    } catch (e) {
      return Response.json({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }, { status: 500 });
    }
  },
};
