/**
 * Bytes one image decode may hold in a Worker (codec wasm memory + pixel copies), by default: the
 * rest of the 128 MB isolate goes to the model (ORT's wasm memory), the JS heap and the request.
 * Measured in workerd (bench/results/workers-memory.md): a 12 MP baseline JPEG decodes exactly in
 * ~37 MB of libjpeg-turbo memory, so it fits; a larger or progressive one is DCT-scaled
 * (`image.decode: "dct-1/2"` … in the answer) when that fits, else refused with 413.
 * `CLIP_EDGE_DECODE_BUDGET_MB` changes it; `npm run workers:upload` checks model + budget ≤ 128 MB.
 */
export const WORKERS_DEFAULT_DECODE_BUDGET_MB = 48;

/**
 * Largest image (width × height) a Worker accepts, checked from the header: the decode budget, not
 * this, is what bounds memory (a 40 MP baseline JPEG decodes at 1/8 scale in a few MB).
 */
export const WORKERS_DEFAULT_MAX_PIXELS = 40_000_000;
