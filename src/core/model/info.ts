import { ClipEdgeError } from '../errors.ts';
import { type Precision, type Tower, PRECISIONS, TOWERS, isPrecision, onnxFileOf } from '../precision.ts';
import type { ClipPreprocessConfig } from '../image/preprocess.ts';
import type { ModelSource } from './source.ts';

/** The image preprocessing a model folder asks for (one type with the image pipeline's). */
export type PreprocessConfig = ClipPreprocessConfig;

export interface TowerFile {
  readonly file: string;
  readonly bytes?: number;
  readonly sha256?: string;
  /**
   * The same variant in ORT format (`clip-edge quantize --ort`), whose weights onnxruntime-web can
   * use in place from the streamed bytes: what the Workers backend loads when it is there.
   */
  readonly ort?: Omit<TowerFile, 'ort'>;
}

export type Variants = Partial<Record<Precision, Partial<Record<Tower, TowerFile>>>>;

/** What the runtime needs to know about a model folder (from manifest.json, or derived from config.json). */
export interface ModelInfo {
  readonly id: string;
  readonly embedDim: number;
  readonly contextLength: number;
  readonly preprocess: PreprocessConfig;
  /** Multiplies cosine similarities before the softmax (CLIP's trained value is 100). */
  readonly logitScale: number;
  readonly variants: Variants;
  /** Templates used for inline labels when a request gives none. */
  readonly defaultTemplates: readonly string[];
  readonly license?: string;
  readonly description?: string;
  /** The raw manifest, when the folder has one. */
  readonly manifest?: Record<string, unknown>;
}

/** CLIP's defaults (openai/CLIP and Hugging Face's CLIPImageProcessor). */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;
export const CLIP_LOGIT_SCALE = 100;
export const CLIP_DEFAULT_TEMPLATES = Object.freeze(['a photo of a {}.']);

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const triple = (v: unknown): [number, number, number] | undefined =>
  Array.isArray(v) && v.length === 3 && v.every((x) => num(x) !== undefined) ? (v as [number, number, number]) : undefined;

async function readJson(source: ModelSource, path: string): Promise<Json | undefined> {
  const bytes = await source.read(path);
  if (bytes === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new ClipEdgeError('MODEL_INVALID', `${source.name}/${path} is not valid JSON`, { cause });
  }
  if (!isObj(parsed)) throw new ClipEdgeError('MODEL_INVALID', `${source.name}/${path} must hold a JSON object`);
  return parsed;
}

const invalid = (source: ModelSource, file: string, what: string) =>
  new ClipEdgeError('MODEL_INVALID', `${source.name}/${file}: ${what}`);

function preprocessFrom(source: ModelSource, pre: Json | undefined, imageSize: number | undefined): PreprocessConfig {
  const size = pre?.size;
  const crop = pre?.crop_size;
  const shortestEdge =
    (isObj(size) ? num(size.shortest_edge) : num(size)) ?? imageSize ?? 224;
  const cropHeight = (isObj(crop) ? num(crop.height) : num(crop)) ?? imageSize ?? shortestEdge;
  const cropWidth = (isObj(crop) ? num(crop.width) : num(crop)) ?? cropHeight;
  const mean = pre?.image_mean === undefined ? CLIP_MEAN : triple(pre.image_mean);
  const std = pre?.image_std === undefined ? CLIP_STD : triple(pre.image_std);
  if (!mean || !std) throw invalid(source, 'preprocessor_config.json', 'image_mean and image_std must be 3 numbers');
  if (std.some((s) => s <= 0)) throw invalid(source, 'preprocessor_config.json', 'image_std must be positive');
  if (pre?.resample !== undefined && pre.resample !== 3) {
    throw invalid(source, 'preprocessor_config.json', `resample ${String(pre.resample)} is not supported (CLIP uses 3 = bicubic)`);
  }
  for (const [k, v] of Object.entries({ shortestEdge, cropHeight, cropWidth })) {
    if (!Number.isInteger(v) || v < 1 || v > 4096) throw invalid(source, 'preprocessor_config.json', `${k} must be an integer in 1..4096`);
  }
  return { shortestEdge, cropHeight, cropWidth, mean, std };
}

function variantsFromManifest(source: ModelSource, m: Json): Variants {
  const out: Variants = {};
  if (m.variants === undefined) return out;
  if (!isObj(m.variants)) throw invalid(source, 'manifest.json', '"variants" must be an object');
  for (const [precision, towers] of Object.entries(m.variants)) {
    if (!isPrecision(precision)) continue; // unknown precisions are ignored, not fatal: newer manifests may add some
    if (!isObj(towers)) throw invalid(source, 'manifest.json', `variants.${precision} must be an object`);
    const entry: Partial<Record<Tower, TowerFile>> = {};
    for (const tower of TOWERS) {
      const t = towers[tower];
      if (t === undefined) continue;
      if (!isObj(t) || typeof t.file !== 'string') throw invalid(source, 'manifest.json', `variants.${precision}.${tower}.file must be a string`);
      if (t.sha256 !== undefined && !(typeof t.sha256 === 'string' && /^[0-9a-f]{64}$/.test(t.sha256))) {
        throw invalid(source, 'manifest.json', `variants.${precision}.${tower}.sha256 must be 64 lower-case hex digits`);
      }
      entry[tower] = { file: t.file, bytes: num(t.bytes), sha256: t.sha256 as string | undefined, ...ortEntry(source, t.ort, `variants.${precision}.${tower}.ort`) };
    }
    out[precision] = entry;
  }
  return out;
}

const SHA256 = /^[0-9a-f]{64}$/;

function ortEntry(source: ModelSource, o: unknown, where: string): { ort?: Omit<TowerFile, 'ort'> } {
  if (o === undefined) return {};
  if (!isObj(o) || typeof o.file !== 'string' || !o.file.endsWith('.ort')) throw invalid(source, 'manifest.json', `${where}.file must name an .ort file`);
  if (o.sha256 !== undefined && !(typeof o.sha256 === 'string' && SHA256.test(o.sha256))) throw invalid(source, 'manifest.json', `${where}.sha256 must be 64 lower-case hex digits`);
  return { ort: { file: o.file, bytes: num(o.bytes), sha256: o.sha256 as string | undefined } };
}

/** Variants found by looking for the standard file names (folders without a manifest). */
async function probeVariants(source: ModelSource): Promise<Variants> {
  const out: Variants = {};
  await Promise.all(
    PRECISIONS.flatMap((precision) =>
      TOWERS.map(async (tower) => {
        const file = onnxFileOf(tower, precision);
        if (await source.exists(file)) (out[precision] ??= {})[tower] = { file };
      }),
    ),
  );
  return out;
}

/**
 * Reads a model folder's metadata: manifest.json when present (clip-edge's own), otherwise the
 * Hugging Face files (config.json + preprocessor_config.json), as an Optimum or transformers.js
 * export of openai/clip-vit-* has them.
 */
export async function readModelInfo(source: ModelSource): Promise<ModelInfo> {
  const [manifest, config, pre] = await Promise.all([
    readJson(source, 'manifest.json'),
    readJson(source, 'config.json'),
    readJson(source, 'preprocessor_config.json'),
  ]);
  if (!manifest && !config) {
    throw new ClipEdgeError('MODEL_NOT_FOUND', `${source.name} is not a CLIP model folder: it has neither manifest.json nor config.json`);
  }
  if (config && config.model_type !== undefined && config.model_type !== 'clip') {
    throw invalid(source, 'config.json', `model_type is "${String(config.model_type)}", expected "clip"`);
  }
  const textCfg = isObj(config?.text_config) ? config.text_config : {};
  const visionCfg = isObj(config?.vision_config) ? config.vision_config : {};
  const mPre = isObj(manifest?.preprocess) ? manifest.preprocess : undefined;
  const preprocess = mPre
    ? preprocessFrom(source, {
        size: { shortest_edge: mPre.shortestEdge },
        crop_size: { height: mPre.cropHeight, width: mPre.cropWidth },
        image_mean: mPre.mean,
        image_std: mPre.std,
      }, undefined)
    : preprocessFrom(source, pre, num(visionCfg.image_size));

  const embedDim = num(manifest?.embedDim) ?? num(config?.projection_dim) ?? 512;
  const contextLength = num(manifest?.contextLength) ?? num(textCfg.max_position_embeddings) ?? 77;
  // config.json's logit_scale_init_value is the *initial* value; trained CLIP checkpoints sit at the clamp, 100.
  const logitScale = num(manifest?.logitScale) ?? CLIP_LOGIT_SCALE;
  const fromManifest = manifest ? variantsFromManifest(source, manifest) : {};
  const variants = Object.keys(fromManifest).length ? fromManifest : await probeVariants(source);
  if (!Object.keys(variants).length) {
    throw new ClipEdgeError('MODEL_NOT_FOUND', `${source.name} has no ONNX encoders (looked for ${onnxFileOf('vision', 'fp32')} and its variants)`);
  }
  const templates = manifest?.defaultTemplates;
  const defaultTemplates =
    Array.isArray(templates) && templates.length && templates.every((t) => typeof t === 'string' && t.includes('{}'))
      ? (templates as string[])
      : CLIP_DEFAULT_TEMPLATES;
  const id = typeof manifest?.id === 'string' ? manifest.id : typeof config?._name_or_path === 'string' && config._name_or_path ? config._name_or_path : source.name.split(/[\\/]/).filter(Boolean).pop() ?? source.name;
  return {
    id,
    embedDim,
    contextLength,
    preprocess,
    logitScale,
    variants,
    defaultTemplates,
    license: typeof manifest?.license === 'string' ? manifest.license : undefined,
    description: typeof manifest?.description === 'string' ? manifest.description : undefined,
    manifest,
  };
}

/** The variants available for a tower, in the table's order. */
export const availablePrecisions = (info: ModelInfo, tower: Tower): Precision[] =>
  PRECISIONS.filter((p) => info.variants[p]?.[tower] !== undefined);
