import type { Precision } from '../../core/precision.ts';

/**
 * Vision variants the Workers backend prefers, best first: int8 where the folder has it (a quarter
 * of fp32's memory, and MatMulInteger runs in WASM), else fp32. fp16 comes last: WASM casts its
 * weights back to fp32, so it saves no memory at run time. Shared with the upload script.
 */
export const WORKERS_VARIANT_ORDER: readonly Precision[] = Object.freeze(['int8', 'q8', 'uint8', 'fp32', 'fp16', 'q4']);
