import { ClipEdgeError } from '../../core/errors.ts';
import type { ModelInfo } from '../../core/model/info.ts';
import { type Precision, WASM_PREFERENCE } from '../../core/precision.ts';

/**
 * Vision variants the Workers backend prefers, best first: int8 where the folder has it (a quarter
 * of fp32's memory, and MatMulInteger runs in WASM), else fp32. fp16 comes last: WASM casts its
 * weights back to fp32, so it saves no memory at run time. Shared with the upload script.
 */
export const WORKERS_VARIANT_ORDER: readonly Precision[] = WASM_PREFERENCE;

/**
 * The text variant both Workers agree on (the vision Worker from its manifest alone, the text
 * Worker from what it loads): `wanted`, else the first of {@link WORKERS_VARIANT_ORDER} the
 * manifest lists. int8 first: ViT-B/32's fp32 text tower (254 MB) cannot fit a 128 MB isolate.
 */
export function workersTextEntry(info: ModelInfo, wanted: Precision | 'auto' | undefined): { precision: Precision; file: string; sha256: string } {
  const listed = (p: Precision) => info.variants[p]?.text ?? info.missing[p]?.text;
  const precision = wanted && wanted !== 'auto' ? wanted : WORKERS_VARIANT_ORDER.find((p) => listed(p));
  const entry = precision && listed(precision);
  if (!precision || !entry) throw new ClipEdgeError('MODEL_NOT_FOUND', `${info.id} lists no ${wanted && wanted !== 'auto' ? `${wanted} ` : ''}text encoder`);
  if (!entry.sha256) throw new ClipEdgeError('INTEGRITY_MISMATCH', `${info.id}/${entry.file} has no sha256 in the manifest, and Workers load only verified files`);
  return { precision, file: entry.file, sha256: entry.sha256 };
}
