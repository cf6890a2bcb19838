// zod/mini: the same validator as the HTTP schemas, tree-shakable, so the browser page stays small.
import * as z from 'zod/mini';
import { ClipEdgeError } from '../errors.ts';
import { TOWERS, type Tower } from '../precision.ts';

/**
 * The one schema of clip-edge's `manifest.json`, read by the loader (info.ts), `clip-edge pull`
 * (its sizes and hashes become download checks) and written by the quantizer (quantize/folder.ts),
 * so the three cannot drift. Unknown fields pass through: newer manifests may add some.
 */

/** A path inside a model folder: no `..`, no absolute path, no leading dot or dash in any segment. */
export const SAFE_RELATIVE_PATH = /^(?:[A-Za-z0-9][\w.-]*\/)*[A-Za-z0-9][\w.-]*$/;

const Sha256 = z.pipe(
  z.string().check(z.regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits')),
  z.transform((s: string) => s.toLowerCase()),
);
const Count = z.int().check(z.gte(0), z.lte(Number.MAX_SAFE_INTEGER));
const Positive = z.int().check(z.gt(0));

const SafePath = z.string().check(z.regex(SAFE_RELATIVE_PATH, 'must be a safe relative path inside the folder'));

/** A variant's ORT-format form (`clip-edge quantize --ort`), loaded in place by the Workers backend. */
export const OrtFileSchema = z.looseObject({
  file: SafePath.check(z.regex(/\.ort$/, 'must name an .ort file')),
  bytes: z.optional(Count),
  sha256: z.optional(Sha256),
});

export const TowerFileSchema = z.looseObject({
  file: SafePath,
  bytes: z.optional(Count),
  sha256: z.optional(Sha256),
  ort: z.optional(OrtFileSchema),
});

/**
 * One consecutive part of a vision tower cut for several Workers (`clip-edge quantize --split`): its
 * ONNX and ORT-format files, and the tensors it takes and gives (the activations at the cuts).
 */
export const TowerPartSchema = z.looseObject({
  file: SafePath,
  bytes: z.optional(Count),
  sha256: z.optional(Sha256),
  ort: z.optional(OrtFileSchema),
  input: z.string().check(z.minLength(1)),
  output: z.string().check(z.minLength(1)),
});

/** `variants.<precision>.visionParts`: the variant's vision tower as consecutive parts, and the whole file they were cut from. */
export const VisionPartsSchema = z.looseObject({
  from: z.looseObject({ file: SafePath, sha256: z.optional(Sha256) }),
  parts: z.array(TowerPartSchema).check(z.minLength(2), z.maxLength(64)),
});

const Triple = z.tuple([z.number(), z.number(), z.number()]);
const Side = z.int().check(z.gte(1), z.lte(4096));

export const ManifestSchema = z.looseObject({
  id: z.optional(z.string().check(z.minLength(1))),
  source: z.optional(z.string()),
  license: z.optional(z.string()),
  description: z.optional(z.string()),
  embedDim: z.optional(Positive),
  contextLength: z.optional(Positive),
  /** Multiplies cosine similarities before the softmax (CLIP's trained value is 100). */
  logitScale: z.optional(z.number().check(z.gt(0))),
  preprocess: z.optional(
    z.looseObject({ shortestEdge: z.optional(Side), cropHeight: z.optional(Side), cropWidth: z.optional(Side), mean: z.optional(Triple), std: z.optional(Triple) }),
  ),
  defaultTemplates: z.optional(z.array(z.string().check(z.includes('{}', 'must contain {}'))).check(z.minLength(1))),
  /** `variants.<precision>.<tower>`: precisions outside the table are kept but not loaded. */
  variants: z.optional(
    z.record(z.string(), z.looseObject({ vision: z.optional(TowerFileSchema), text: z.optional(TowerFileSchema), visionParts: z.optional(VisionPartsSchema) })),
  ),
  /** The quantizer's reports per variant and tower (quantize/folder.ts). */
  quantization: z.optional(z.record(z.string(), z.unknown())),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestTowerFile = z.infer<typeof TowerFileSchema>;
export type ManifestVisionParts = z.infer<typeof VisionPartsSchema>;

/** Checks a parsed manifest.json; `where` names it in the MODEL_INVALID message (first problem, with its field). */
export function parseManifest(json: unknown, where: string): Manifest {
  const r = ManifestSchema.safeParse(json);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new ClipEdgeError('MODEL_INVALID', `${where}: ${issue.path.map(String).join('.') || '(root)'} ${issue.message}`, { cause: r.error });
}

/** Every ONNX file a manifest lists, one row per precision and tower. */
export function manifestFiles(m: Manifest): { precision: string; tower: Tower; file: ManifestTowerFile }[] {
  return Object.entries(m.variants ?? {}).flatMap(([precision, towers]) =>
    TOWERS.flatMap((tower) => (towers[tower] ? [{ precision, tower, file: towers[tower] }] : [])),
  );
}

/** The Hugging Face `config.json` fields a CLIP folder without a manifest is read from. */
export const HfClipConfigSchema = z.looseObject({
  model_type: z.optional(z.string()),
  _name_or_path: z.optional(z.string()),
  projection_dim: z.optional(Positive),
  text_config: z.optional(z.looseObject({ max_position_embeddings: z.optional(Positive) })),
  vision_config: z.optional(z.looseObject({ image_size: z.optional(Positive) })),
});

/** `preprocessor_config.json` (CLIPImageProcessor): sizes as a number or an object. */
export const HfPreprocessorSchema = z.looseObject({
  size: z.optional(z.union([z.number(), z.looseObject({ shortest_edge: z.optional(z.number()) })])),
  crop_size: z.optional(z.union([z.number(), z.looseObject({ height: z.optional(z.number()), width: z.optional(z.number()) })])),
  image_mean: z.optional(Triple),
  image_std: z.optional(Triple),
  resample: z.optional(z.number()),
});
