/**
 * Largest image (width × height) a Worker decodes by default. Decoding holds the codec's wasm
 * memory, the RGBA copy and the RGB image beside the model inside the 128 MB isolate: measured
 * in workerd, a 4 MP photo peaks at ~107 MB with tiny-clip's fp32 vision tower, a 12 MP one at
 * ~256 MB (bench/results/workers-memory.md). Larger photos get 413 IMAGE_TOO_LARGE: resize them
 * before sending (CLIP sees 224 px anyway).
 */
export const WORKERS_DEFAULT_MAX_PIXELS = 4_000_000;
