// A measuring Worker for scripts/workers-memory.ts (never deployed): the production kit
// (createWorkersClipEdge over R2/KV, the Worker's own defaults) plus routes that load a
// configuration, classify or embed an image and report ORT's wasm memory (a high-water mark: wasm
// memory never shrinks) and the image codecs' (the most their live instances held since the previous answer).
import { freeBytes } from '../src/core/bytes.ts';
import type { ClipEdge } from '../src/core/clip.ts';
import type { WorkersEnv } from '../src/runtime/workers/bindings.ts';
import { createWorkersClipEdge } from '../src/runtime/workers/create.ts';
import { WORKERS_DEFAULT_BODY_MEMORY_MB, decodeBudgetFromModel } from '../src/runtime/workers/limits.ts';
import { ortWasmMemoryBytes, workersWasmBackend } from '../src/runtime/workers/ort.ts';
import { createTextService } from '../src/runtime/workers/text-service.ts';
import { createVisionPartService } from '../src/runtime/workers/vision-part-service.ts';

let clip: ClipEdge | undefined;
let text: Awaited<ReturnType<typeof createTextService>> | undefined;
let part: Awaited<ReturnType<typeof createVisionPartService>> | undefined;
let fixedBudgetMb = 0;
const memory = () => ({
  ortWasm: ortWasmMemoryBytes() ?? 0,
  // The codec instances' largest live wasm memory (in use + kept idle) since the previous answer.
  codecWasm: clip?.codecMemoryPeakBytes() ?? 0,
  // What CLIP_EDGE_DECODE_BUDGET_MB gave this request: auto (the default) follows the model.
  decodeBudget: fixedBudgetMb
    ? fixedBudgetMb * 2 ** 20
    : decodeBudgetFromModel({ ortWasmBytes: ortWasmMemoryBytes() ?? 0, bodyMemoryBytes: WORKERS_DEFAULT_BODY_MEMORY_MB * 2 ** 20 }),
});

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
        const t0 = performance.now();
        fixedBudgetMb = Number(q('budget')) || 0;
        clip = await createWorkersClipEdge(
          {
            ...env,
            CLIP_EDGE_MODEL: q('model') || env.CLIP_EDGE_MODEL,
            CLIP_EDGE_VARIANT: q('variant'),
            CLIP_EDGE_TEXT: q('text'),
            CLIP_EDGE_IN_PLACE: q('inPlace') || 'true',
            CLIP_EDGE_DECODE_BUDGET_MB: q('budget') || 'auto',
          },
          q('prepacking') === 'true' ? { backends: [workersWasmBackend({ prepacking: true })] } : {},
        );
        await clip.warmup();
        const status = clip.status().active.vision;
        return Response.json({ ...memory(), variant: status.variant, inPlace: status.inPlace === true, loadMs: performance.now() - t0 });
      }
      if (url.pathname === '/load-text') {
        // The text Worker's own service (src/runtime/workers/text-worker.ts), loaded and run once.
        const t0 = performance.now();
        text = await createTextService({ ...env, CLIP_EDGE_MODEL: q('model'), CLIP_EDGE_TEXT_VARIANT: q('variant'), CLIP_EDGE_IN_PLACE: q('inPlace') || 'true', CLIP_EDGE_TEXT_RUN_BATCH: q('runBatch') });
        const about = await text.info();
        const r = await text.embedTexts(['a photo of a dog.'], about);
        if (!r.ok) throw new Error(r.message);
        return Response.json({ ortWasm: ortWasmMemoryBytes() ?? 0, variant: about.variant, inPlace: about.inPlace, loadMs: performance.now() - t0 });
      }
      if (url.pathname === '/load-part') {
        // A part Worker's own service (src/runtime/workers/vision-part-worker.ts), its part loaded; not bound to the next part.
        const t0 = performance.now();
        part = await createVisionPartService({ ...env, CLIP_EDGE_MODEL: q('model'), CLIP_EDGE_VARIANT: q('variant') || 'auto', CLIP_EDGE_VISION_PART: q('part'), CLIP_EDGE_IN_PLACE: 'true', NEXT_PART: undefined });
        await part.load();
        const about = await part.info();
        return Response.json({ ...about, loadMs: performance.now() - t0 });
      }
      if (url.pathname === '/run-part') {
        // This part on the activations sent (float32, little-endian, dims in the query); its output comes back the same way.
        const dims = q('dims').split(',').map(Number);
        const out = await part!.runLocal(new Float32Array(await request.arrayBuffer()), dims);
        const about = await part!.info();
        const response = new Response(new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength), { headers: { 'x-dims': out.dims.join(','), 'x-ort-wasm': String(about.ortWasmBytes), 'x-loaded': String(about.loaded) } });
        // As a part Worker gives its output back once the next part's call has it (runPartHop's `sent`): the
        // Response holds its own copy of the body here (a freed one would arrive empty, and the next part's dims check would fail).
        freeBytes(out.data);
        return response;
      }
      if (url.pathname === '/embed-texts') {
        const r = await text!.embedTexts((await request.json()) as string[], await text!.info());
        if (!r.ok) throw new Error(r.message);
        return Response.json({ ortWasm: ortWasmMemoryBytes() ?? 0, rows: r.truncated.length });
      }
      // The body is read when its decode turn comes, as the HTTP routes read a raw image body (src/http/body.ts).
      const body = async () => new Uint8Array(await request.arrayBuffer());
      if (url.pathname === '/classify') {
        const r = await clip!.classify(body, { labelSet: q('labelSet'), topK: 1 });
        return Response.json({ ...memory(), image: r.image, timings: r.timings, top: r.results[0] });
      }
      if (url.pathname === '/embed') {
        // For a model without a prompt cache (the ViT-B/32 stand-in): the same decode + vision path.
        const r = await clip!.embedImage(body);
        return Response.json({ ...memory(), image: r.image, timings: r.timings });
      }
      return new Response('not found', { status: 404 });
    } catch (e) {
      return Response.json({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }, { status: 500 });
    }
  },
};
