import { z } from 'zod';
import { ClipEdgeError } from '../errors.ts';
import { TOWERS, type Tower } from '../precision.ts';

/**
 * The one schema of clip-edge's `manifest.json`, read by the loader (info.ts), `clip-edge pull`
 * (its sizes and hashes become download checks) and written by the quantizer (quantize/folder.ts),
 * so the three cannot drift. Unknown fields pass through: newer manifests may add some.
 */

/** A path inside a model folder: no `..`, no absolute path, no leading dot or dash in any segment. */
export const SAFE_RELATIVE_PATH = /^(?:[A-Za-z0-9][\w.-]*\/)*[A-Za-z0-9][\w.-]*$/;

const Sha256 = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits')
  .transform((s) => s.toLowerCase());

export const TowerFileSchema = z.looseObject({
  file: z.string().regex(SAFE_RELATIVE_PATH, 'must be a safe relative path inside the folder'),
  bytes: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  sha256: Sha256.optional(),
});

const Triple = z.tuple([z.number(), z.number(), z.number()]);
const Side = z.number().int().min(1).max(4096);

export const ManifestSchema = z.looseObject({
  id: z.string().min(1).optional(),
  source: z.string().optional(),
  license: z.string().optional(),
  description: z.string().optional(),
  embedDim: z.number().int().positive().optional(),
  contextLength: z.number().int().positive().optional(),
  /** Multiplies cosine similarities before the softmax (CLIP's trained value is 100). */
  logitScale: z.number().positive().optional(),
  preprocess: z
    .looseObject({ shortestEdge: Side.optional(), cropHeight: Side.optional(), cropWidth: Side.optional(), mean: Triple.optional(), std: Triple.optional() })
    .optional(),
  defaultTemplates: z.array(z.string().includes('{}', { error: 'must contain {}' })).min(1).optional(),
  /** `variants.<precision>.<tower>`: precisions outside the table are kept but not loaded. */
  variants: z.record(z.string(), z.looseObject({ vision: TowerFileSchema.optional(), text: TowerFileSchema.optional() })).optional(),
  /** The quantizer's reports per variant and tower (quantize/folder.ts). */
  quantization: z.record(z.string(), z.unknown()).optional(),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestTowerFile = z.infer<typeof TowerFileSchema>;

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
  model_type: z.string().optional(),
  _name_or_path: z.string().optional(),
  projection_dim: z.number().int().positive().optional(),
  text_config: z.looseObject({ max_position_embeddings: z.number().int().positive().optional() }).optional(),
  vision_config: z.looseObject({ image_size: z.number().int().positive().optional() }).optional(),
});

/** `preprocessor_config.json` (CLIPImageProcessor): sizes as a number or an object. */
export const HfPreprocessorSchema = z.looseObject({
  size: z.union([z.number(), z.looseObject({ shortest_edge: z.number().optional() })]).optional(),
  crop_size: z.union([z.number(), z.looseObject({ height: z.number().optional(), width: z.number().optional() })]).optional(),
  image_mean: Triple.optional(),
  image_std: Triple.optional(),
  resample: z.number().optional(),
});
