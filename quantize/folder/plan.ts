// Planning a folder's quantization run: which towers, whether the asked variants can be made, and
// how much verification a model of this size gets.
import path from 'node:path';
import { ClipEdgeError } from '../../src/core/errors.ts';
import type { ModelInfo } from '../../src/core/model/info.ts';
import { type Precision, type Tower, TOWERS, onnxFileOf } from '../../src/core/precision.ts';
import type { QuantVariant } from '../pipeline.ts';

export interface VerifyBudget {
  /** Images checked (spread over the sources). @defaultValue all; 32 for towers over 50 MB */
  maxImages?: number;
  /** Templates per class. @defaultValue all; 1 for towers over 50 MB */
  maxTemplates?: number;
  /** Timed batch-1 runs per model (the median is reported). @defaultValue 20; 5 for towers over 50 MB */
  latencyRuns?: number;
}

/** Towers over this many float32 bytes get the smaller verification budget. */
const BIG = 50 * 2 ** 20;

/**
 * The towers to quantize (`towers`, else every float32 one the folder has). Throws BAD_INPUT when
 * nothing is asked for, MODEL_NOT_FOUND when a tower has no float32 file or an `ort` variant is
 * neither made by this run nor already in the folder.
 */
export function planTowers(
  dir: string,
  info: ModelInfo,
  asked: { variants: readonly QuantVariant[]; towers?: readonly Tower[]; ort?: readonly Precision[] },
): readonly Tower[] {
  const towers = asked.towers ?? TOWERS.filter((t) => info.variants.fp32?.[t]);
  if (!asked.variants.length && !asked.ort?.length) throw new ClipEdgeError('BAD_INPUT', 'no variants asked for');
  for (const v of asked.ort ?? []) {
    for (const t of towers) {
      if (!(asked.variants as readonly string[]).includes(v) && !info.variants[v]?.[t]) {
        throw new ClipEdgeError('MODEL_NOT_FOUND', `--ort ${v}: ${dir} has no ${v} ${t} variant and this run does not make one (add it to --variants)`);
      }
    }
  }
  for (const t of towers) {
    if (!info.variants.fp32?.[t]) throw new ClipEdgeError('MODEL_NOT_FOUND', `${dir} has no float32 ${t} encoder (${onnxFileOf(t, 'fp32')})`);
  }
  return towers;
}

/** The float32 file of a tower the folder has. */
export const fp32FileOf = (dir: string, info: ModelInfo, t: Tower): string => path.join(dir, info.variants.fp32![t]!.file);

/** The budget asked for, the rest filled in by the size of the largest float32 tower. */
export function verifyBudget(asked: VerifyBudget | undefined, fp32Sizes: Iterable<number>): Required<VerifyBudget> {
  const big = Math.max(...fp32Sizes) > BIG;
  return {
    maxImages: asked?.maxImages ?? (big ? 32 : Infinity),
    maxTemplates: asked?.maxTemplates ?? (big ? 1 : Infinity),
    latencyRuns: asked?.latencyRuns ?? (big ? 5 : 20),
  };
}
