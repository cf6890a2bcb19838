import { ClipEdgeError } from '../errors.ts';
import { type Precision, type Tower, PRECISIONS, TOWERS, isPrecision, onnxFileOf } from '../precision.ts';
import type { ClipPreprocessConfig } from '../image/preprocess.ts';
import type * as z from 'zod/mini';
import { HfClipConfigSchema, HfPreprocessorSchema, type Manifest, manifestFiles, parseManifest } from './manifest.ts';
import type { ModelSource } from './source.ts';

/** The image preprocessing a model folder asks for (one type with the image pipeline's). */
export type PreprocessConfig = ClipPreprocessConfig;

/** One ONNX file of a variant (a type, not an interface, so it fits the manifest schema's open objects). */
export type TowerFile = {
  readonly file: string;
  readonly bytes?: number;
  readonly sha256?: string;
  /**
   * The same variant in ORT format (`clip-edge quantize --ort`), whose weights onnxruntime-web can
   * use in place from the streamed bytes: what the Workers backend loads when it is there.
   */
  readonly ort?: { readonly file: string; readonly bytes?: number; readonly sha256?: string };
};

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
  /**
   * Variants the manifest lists whose files the folder does not hold: a partial copy, such as the
   * npm package's bundled model (int8 only) or `clip-edge pull --variants`. Never picked by `auto`;
   * asking for one by name says which file is missing. Their hashes still identify prompt caches.
   */
  readonly missing: Variants;
  /** Templates used for inline labels when a request gives none. */
  readonly defaultTemplates: readonly string[];
  readonly license?: string;
  readonly description?: string;
  /** The manifest (checked by ManifestSchema; unknown fields kept), when the folder has one. */
  readonly manifest?: Record<string, unknown>;
}

/** CLIP's defaults (openai/CLIP and Hugging Face's CLIPImageProcessor). */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;
export const CLIP_LOGIT_SCALE = 100;
export const CLIP_DEFAULT_TEMPLATES = Object.freeze(['a photo of a {}.']);

type Json = Record<string, unknown>;
type HfPreprocessor = z.infer<typeof HfPreprocessorSchema>;

const invalid = (source: ModelSource, file: string, what: string) =>
  new ClipEdgeError('MODEL_INVALID', `${source.name}/${file}: ${what}`);

/** A JSON file of the folder checked against its schema; `undefined` when the folder has none. */
async function readJson<T>(source: ModelSource, path: string, check: (json: unknown, where: string) => T): Promise<T | undefined> {
  const bytes = await source.read(path);
  if (bytes === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new ClipEdgeError('MODEL_INVALID', `${source.name}/${path} is not valid JSON`, { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid(source, path, 'must hold a JSON object');
  return check(parsed, `${source.name}/${path}`);
}

/** A Hugging Face JSON file through its zod schema; the first problem names its field. */
const hf =
  <S extends z.ZodMiniType>(schema: S) =>
  (json: unknown, where: string): z.infer<S> => {
    const r = schema.safeParse(json);
    if (r.success) return r.data;
    const issue = r.error.issues[0]!;
    throw new ClipEdgeError('MODEL_INVALID', `${where}: ${issue.path.map(String).join('.')} ${issue.message}`, { cause: r.error });
  };

function preprocessFrom(source: ModelSource, pre: HfPreprocessor | undefined, imageSize: number | undefined): PreprocessConfig {
  const { size, crop_size: crop } = pre ?? {};
  const shortestEdge = (typeof size === 'object' ? size.shortest_edge : size) ?? imageSize ?? 224;
  const cropHeight = (typeof crop === 'object' ? crop.height : crop) ?? imageSize ?? shortestEdge;
  const cropWidth = (typeof crop === 'object' ? crop.width : crop) ?? cropHeight;
  const mean = pre?.image_mean ?? CLIP_MEAN;
  const std = pre?.image_std ?? CLIP_STD;
  if (std.some((s) => s <= 0)) throw invalid(source, 'preprocessor_config.json', 'image_std must be positive');
  if (pre?.resample !== undefined && pre.resample !== 3) {
    throw invalid(source, 'preprocessor_config.json', `resample ${String(pre.resample)} is not supported (CLIP uses 3 = bicubic)`);
  }
  for (const [k, v] of Object.entries({ shortestEdge, cropHeight, cropWidth })) {
    if (!Number.isInteger(v) || v < 1 || v > 4096) throw invalid(source, 'preprocessor_config.json', `${k} must be an integer in 1..4096`);
  }
  return { shortestEdge, cropHeight, cropWidth, mean, std };
}

/** The manifest's variants of known precisions (others are kept in the manifest, not loaded). */
function variantsFromManifest(m: Manifest): Variants {
  const out: Variants = {};
  for (const { precision, tower, file } of manifestFiles(m)) {
    if (!isPrecision(precision)) continue;
    const ort = file.ort ? { ort: { file: file.ort.file, bytes: file.ort.bytes, sha256: file.ort.sha256 } } : {};
    (out[precision] ??= {})[tower] = { file: file.file, bytes: file.bytes, sha256: file.sha256, ...ort };
  }
  return out;
}

/** Splits the manifest's variants into those whose file the folder holds and those it does not. */
async function splitPresent(source: ModelSource, listed: Variants): Promise<{ present: Variants; missing: Variants }> {
  const present: Variants = {};
  const missing: Variants = {};
  await Promise.all(
    Object.entries(listed).flatMap(([precision, towers]) =>
      Object.entries(towers).map(async ([tower, file]) => {
        // A folder uploaded for in-place loading holds the variant's .ort and not its .onnx; one
        // copied without the .ort (an .onnx-only upload) loads the .onnx by copying, never a 500.
        const [onnxHere, ortHere] = await Promise.all([source.exists(file.file), file.ort ? source.exists(file.ort.file) : false]);
        const { ort, ...onnxOnly } = file;
        const into = onnxHere || ortHere ? present : missing;
        (into[precision as Precision] ??= {})[tower as Tower] = ort && !ortHere && onnxHere ? onnxOnly : file;
      }),
    ),
  );
  return { present, missing };
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
  const [rawManifest, config, pre] = await Promise.all([
    readJson(source, 'manifest.json', (json) => json as Json),
    readJson(source, 'config.json', hf(HfClipConfigSchema)),
    readJson(source, 'preprocessor_config.json', hf(HfPreprocessorSchema)),
  ]);
  // Checked by the schema; ModelInfo keeps the raw object (its key order) for the quantizer's rewrite.
  const manifest = rawManifest && parseManifest(rawManifest, `${source.name}/manifest.json`);
  if (!manifest && !config) {
    throw new ClipEdgeError('MODEL_NOT_FOUND', `${source.name} is not a CLIP model folder: it has neither manifest.json nor config.json`);
  }
  if (config && config.model_type !== undefined && config.model_type !== 'clip') {
    throw invalid(source, 'config.json', `model_type is "${String(config.model_type)}", expected "clip"`);
  }
  const mPre = manifest?.preprocess;
  const preprocess = mPre
    ? preprocessFrom(source, { size: { shortest_edge: mPre.shortestEdge }, crop_size: { height: mPre.cropHeight, width: mPre.cropWidth }, image_mean: mPre.mean, image_std: mPre.std }, undefined)
    : preprocessFrom(source, pre, config?.vision_config?.image_size);
  const fromManifest = manifest ? variantsFromManifest(manifest) : {};
  const split = await splitPresent(source, fromManifest);
  // A source holding none of the listed files is read for its metadata only (upload planning, the
  // Workers tests' fixtures): keep every listed variant; loading one then names the missing file.
  const partial = Object.keys(split.present).length > 0;
  const missing = partial ? split.missing : {};
  const variants = Object.keys(fromManifest).length ? (partial ? split.present : fromManifest) : await probeVariants(source);
  if (!Object.keys(variants).length) {
    throw new ClipEdgeError('MODEL_NOT_FOUND', `${source.name} has no ONNX encoders (looked for ${onnxFileOf('vision', 'fp32')} and its variants)`);
  }
  return {
    id: manifest?.id ?? (config?._name_or_path || source.name.split(/[\\/]/).filter(Boolean).pop() || source.name),
    embedDim: manifest?.embedDim ?? config?.projection_dim ?? 512,
    contextLength: manifest?.contextLength ?? config?.text_config?.max_position_embeddings ?? 77,
    preprocess,
    // config.json's logit_scale_init_value is the *initial* value; trained CLIP checkpoints sit at the clamp, 100.
    logitScale: manifest?.logitScale ?? CLIP_LOGIT_SCALE,
    variants,
    missing,
    defaultTemplates: manifest?.defaultTemplates ?? CLIP_DEFAULT_TEMPLATES,
    license: manifest?.license,
    description: manifest?.description,
    manifest: rawManifest,
  };
}

/** The variants available for a tower, in the table's order. */
export const availablePrecisions = (info: ModelInfo, tower: Tower): Precision[] =>
  PRECISIONS.filter((p) => info.variants[p]?.[tower] !== undefined);
