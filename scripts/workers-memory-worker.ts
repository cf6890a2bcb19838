// A measuring Worker for scripts/workers-memory.ts (never deployed): the production kit
// (createWorkersClipEdge over R2/KV) plus routes that load a configuration, classify an
// image and report ORT's wasm memory and the image codec's wasm memory.
import type { ClipEdge } from '../src/core/clip.ts';
import { createImageDecoder } from '../src/core/image/decoder.ts';
import type { WorkersEnv } from '../src/runtime/workers/bindings.ts';
import { workersImageCodecs } from '../src/runtime/workers/codecs.ts';
import { createWorkersClipEdge, workersConfig } from '../src/runtime/workers/create.ts';
import { ortWasmMemoryBytes, workersWasmBackend } from '../src/runtime/workers/ort.ts';

let clip: ClipEdge | undefined;

/**
 * The JPEG codec's wasm memory after `decodeForClip` of `bytes` in a fresh decoder with the
 * Worker's settings (what the kit's decoder holds at its peak), and the path it took.
 */
async function codecMemory(env: WorkersEnv, bytes: Uint8Array): Promise<{ codecWasm: number; decode: string }> {
  const cfg = workersConfig(env);
  const decoder = createImageDecoder({ wasm: workersImageCodecs(), maxPixels: cfg.limits.maxPixels ?? 40_000_000, decodeBudgetBytes: cfg.decodeBudgetBytes, jpegScaling: cfg.jpegScaling });
  const r = await decoder.decodeForClip(bytes, { shortestEdge: 224, cropWidth: 224, cropHeight: 224, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
  return { codecWasm: decoder.jpegCodecMemoryBytes(), decode: r.decode };
}

export default {
  async fetch(request: Request, env: WorkersEnv & { MODELS: NonNullable<WorkersEnv['MODELS']> }): Promise<Response> {
    const url = new URL(request.url);
    const q = (k: string) => url.searchParams.get(k) ?? '';
    try {
      if (url.pathname === '/put') {
        if ((await env.MODELS.head(q('key')))?.size === Number(q('size'))) return Response.json({ ok: true, skipped: true });
        await env.MODELS.put(q('key'), await request.arrayBuffer());
        return Response.json({ ok: true });
      }
      if (url.pathname === '/load') {
        // prepacking=true measures ORT's default (weights pre-packed: more memory); the Worker turns it off.
        clip = await createWorkersClipEdge(
          { ...env, CLIP_EDGE_MODEL: q('model') || env.CLIP_EDGE_MODEL, CLIP_EDGE_VARIANT: q('variant'), CLIP_EDGE_TEXT: q('text') },
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
      if (url.pathname === '/embed') {
        // For a model without a prompt cache (the ViT-B/32 stand-in): the same decode + vision path.
        const r = await clip!.embedImage(new Uint8Array(await request.arrayBuffer()));
        return Response.json({ ortWasm: ortWasmMemoryBytes(), image: r.image });
      }
      if (url.pathname === '/codec') {
        return Response.json(await codecMemory(env, new Uint8Array(await request.arrayBuffer())));
      }
      return new Response('not found', { status: 404 });
    } catch (e) {
      return Response.json({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }, { status: 500 });
    }
  },
};
