/** Cloudflare's memory limit per isolate: JS heap and every wasm memory together (local workerd does not enforce it). */
export const WORKERS_MEMORY_LIMIT = 128 * 1024 * 1024;

const MiB = 1024 * 1024;

/**
 * JS heap kept aside when the decode budget follows the model: the kit after loading (4.5 MiB
 * measured in workerd, bench/results/workers-memory.md) plus a request's temporaries.
 */
export const WORKERS_JS_HEAP_ALLOWANCE = 8 * MiB;

/**
 * Image request bodies held at once per isolate (CLIP_EDGE_BODY_MEMORY_MB): four 12 MP phone JPEGs
 * (~1.6 MB each) at the same time; more wait their turn (the app's body pool).
 */
export const WORKERS_DEFAULT_BODY_MEMORY_MB = 8;

/**
 * The most one image decode may hold when the budget follows the model (`auto`). JPEG and PNG are
 * streamed row by row into the resize (a 12 MP baseline JPEG needs ~2 MB, a 48 MP one ~3 MB), so
 * this bounds what only a whole decode needs: a progressive JPEG's coefficients (~3 B/pixel: 12 MP
 * fits in 48 MB), a WebP (~11 B/pixel), an interlaced PNG. What a model leaves (ViT-B/32 int8 in
 * place: ~11.6 MB) still decodes 12–48 MP baseline JPEGs and PNGs exactly; the rest gets 413, or a
 * DCT-scaled decode where allowed (`image.decode: "dct-1/2"` … in the answer).
 */
export const WORKERS_MAX_DECODE_BUDGET_MB = 48;

/**
 * The decode budget that follows the model (CLIP_EDGE_DECODE_BUDGET_MB=auto, the default): what the
 * 128 MB isolate has left once the model is loaded, minus the JS heap and the request-body pool,
 * capped at {@link WORKERS_MAX_DECODE_BUDGET_MB}. Decodes run one at a time (the decoder's rule for a
 * budget that follows the model) with one kept codec instance, so concurrent requests share this
 * budget; 0 when nothing is left (every image 413).
 */
export function decodeBudgetFromModel(o: { ortWasmBytes: number; bodyMemoryBytes: number; jsHeapBytes?: number; limitBytes?: number }): number {
  const left = (o.limitBytes ?? WORKERS_MEMORY_LIMIT) - o.ortWasmBytes - (o.jsHeapBytes ?? WORKERS_JS_HEAP_ALLOWANCE) - o.bodyMemoryBytes;
  return Math.max(0, Math.min(left, WORKERS_MAX_DECODE_BUDGET_MB * MiB));
}

/**
 * Largest image (width × height) a Worker accepts, checked from the header: the decode budget, not
 * this, is what bounds memory (a 40 MP baseline JPEG streams through the resize in ~3 MB).
 */
export const WORKERS_DEFAULT_MAX_PIXELS = 40_000_000;
