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
 * The most one image decode may hold when the budget follows the model (`auto`): a 12 MP baseline
 * JPEG decodes exactly in ~37 MB of libjpeg-turbo memory, so 48 MB keeps PIL's pixels for phone
 * photos when the model leaves that much room (tiny-clip does; ViT-B/32 does not, and its JPEGs
 * are then DCT-scaled: `image.decode: "dct-1/2"` … in the answer).
 */
export const WORKERS_MAX_DECODE_BUDGET_MB = 48;

/**
 * The decode budget that follows the model (CLIP_EDGE_DECODE_BUDGET_MB=auto, the default): what the
 * 128 MB isolate has left once the model is loaded, minus the JS heap and the request-body pool,
 * capped at {@link WORKERS_MAX_DECODE_BUDGET_MB}. Decodes run one at a time with one codec
 * instance, so concurrent requests share this budget; 0 when nothing is left (every image 413).
 */
export function decodeBudgetFromModel(o: { ortWasmBytes: number; bodyMemoryBytes: number; jsHeapBytes?: number; limitBytes?: number }): number {
  const left = (o.limitBytes ?? WORKERS_MEMORY_LIMIT) - o.ortWasmBytes - (o.jsHeapBytes ?? WORKERS_JS_HEAP_ALLOWANCE) - o.bodyMemoryBytes;
  return Math.max(0, Math.min(left, WORKERS_MAX_DECODE_BUDGET_MB * MiB));
}

/**
 * Largest image (width × height) a Worker accepts, checked from the header: the decode budget, not
 * this, is what bounds memory (a 40 MP baseline JPEG decodes at 1/8 scale in a few MB).
 */
export const WORKERS_DEFAULT_MAX_PIXELS = 40_000_000;
