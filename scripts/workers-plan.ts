/**
 * What `npm run workers:upload` puts where, as pure functions (no I/O) shared by the upload script
 * (Node) and the workerd tests, so the tests' R2/KV hold exactly what an upload writes.
 *
 * R2 (binding MODELS): `<model>/<path>` for the folder's metadata, label sets, prompt caches and
 *   the ONNX files of the configured variants.
 * KV (binding PROMPTS): `<model>/<label set>` → the packed prompt cache (header + matrix).
 */
import type { ModelInfo } from '../src/core/model/info.ts';
import { type Precision, isPrecision } from '../src/core/precision.ts';
import { WORKERS_VARIANT_ORDER } from '../src/runtime/workers/variants.ts';

export interface DeployConfig {
  model: string;
  /** `auto` or a precision (CLIP_EDGE_VARIANT). */
  variant: string;
  /** CLIP_EDGE_TEXT */
  text: boolean;
  /** CLIP_EDGE_IN_PLACE: upload (and load) a variant's ORT-format form instead of its .onnx when the manifest lists one. @defaultValue true */
  inPlace?: boolean;
  /** The text Worker's CLIP_EDGE_TEXT_VARIANT (wrangler.text.toml) when it is deployed: its text tower is uploaded too. @defaultValue none */
  textWorker?: string;
  /**
   * The vision tower split across part Workers: the parts' files (`visionPartsOf(info, variant)`),
   * uploaded too (their `.ort` when in place). The whole tower's file is then left out. @defaultValue none
   */
  visionParts?: readonly { file: string; ort?: { file: string } }[];
}

export interface UploadPlan {
  vision: Precision;
  /** The vision (or text) tower is loaded in place from its ORT-format file. */
  inPlace: boolean;
  text?: Precision;
  /** The text Worker's text variant (uploaded beside the vision Worker's files, in the same folder). */
  textWorker?: Precision;
  /** R2 objects: key → file path relative to the model folder. */
  r2: { key: string; path: string }[];
  /** KV prompt caches: key → the header/matrix pair to pack. */
  kv: { key: string; json: string; bin: string }[];
}

/** The vision variant a Worker picks: the configured one, or the first of the Workers order that the folder has. */
export function resolveVisionVariant(variants: ModelInfo['variants'], wanted: string): Precision {
  const have = (Object.keys(variants) as Precision[]).filter((p) => variants[p]?.vision);
  if (wanted !== 'auto') {
    if (!isPrecision(wanted)) throw new Error(`unknown variant "${wanted}" (fp32, fp16, int8, uint8, q8, q4 or auto)`);
    if (!have.includes(wanted)) throw new Error(`the model has no ${wanted} vision encoder (it has: ${have.join(', ') || 'none'})`);
    return wanted;
  }
  const pick = WORKERS_VARIANT_ORDER.find((p) => have.includes(p)) ?? have[0];
  if (!pick) throw new Error('the model has no vision encoder');
  return pick;
}

/** The text variant a Worker with CLIP_EDGE_TEXT=true picks (`auto`: fp32 first, as the core does). */
export function resolveTextVariant(variants: ModelInfo['variants']): Precision | undefined {
  const have = (Object.keys(variants) as Precision[]).filter((p) => variants[p]?.text);
  return (['fp32', ...WORKERS_VARIANT_ORDER] as Precision[]).find((p) => have.includes(p));
}

/** The text variant the text Worker picks (`auto`: the Workers order, int8 first; see workersTextEntry). */
export function resolveTextWorkerVariant(variants: ModelInfo['variants'], wanted: string): Precision {
  const have = (Object.keys(variants) as Precision[]).filter((p) => variants[p]?.text);
  if (wanted !== 'auto') {
    if (!isPrecision(wanted) || !have.includes(wanted)) throw new Error(`the model has no ${wanted} text encoder for the text Worker (it has: ${have.join(', ') || 'none'})`);
    return wanted;
  }
  const pick = WORKERS_VARIANT_ORDER.find((p) => have.includes(p));
  if (!pick) throw new Error('the text Worker is configured but the model has no text encoder');
  return pick;
}

/** Plans an upload of a model folder whose files (relative paths, `/`-separated) are `files`. */
export function uploadPlan(files: readonly string[], variants: ModelInfo['variants'], cfg: DeployConfig): UploadPlan {
  const vision = resolveVisionVariant(variants, cfg.variant);
  const text = cfg.text ? resolveTextVariant(variants) : undefined;
  if (cfg.text && !text) throw new Error('CLIP_EDGE_TEXT=true but the model has no text encoder');
  const fileOf = (t: 'vision' | 'text', p: Precision) => {
    const e = variants[p]![t]!;
    return cfg.inPlace !== false && e.ort ? e.ort.file : e.file;
  };
  const textWorker = cfg.textWorker ? resolveTextWorkerVariant(variants, cfg.textWorker) : undefined;
  const parts = (cfg.visionParts ?? []).map((p) => (cfg.inPlace !== false && p.ort ? p.ort.file : p.file));
  // Split across part Workers, the vision Worker loads no vision tower: only the parts travel.
  const onnx = new Set([...(parts.length ? parts : [fileOf('vision', vision)]), ...(text ? [fileOf('text', text)] : []), ...(textWorker ? [fileOf('text', textWorker)] : [])]);
  const r2 = files
    .filter((f) => (/\.(onnx|onnx_data|ort)$/.test(f) ? onnx.has(f) : !f.startsWith('.') && !f.includes('/.')))
    .map((path) => ({ key: `${cfg.model}/${path}`, path }));
  for (const f of onnx) if (!files.includes(f)) throw new Error(`${f} is listed by the manifest but missing from the folder`);
  const kv = files
    .filter((f) => /^prompts\/[^/]+\.json$/.test(f) && files.includes(f.replace(/\.json$/, '.bin')))
    .map((json) => ({ key: `${cfg.model}/${json.slice('prompts/'.length, -'.json'.length)}`, json, bin: json.replace(/\.json$/, '.bin') }));
  return { vision, ...(text ? { text } : {}), ...(textWorker ? { textWorker } : {}), inPlace: [...onnx].some((f) => f.endsWith('.ort')), r2, kv };
}
