// Making a folder's variants: each float32 tower read once, its signature checked, each variant's
// passes run and the result staged in a temporary file (written into place only once verified).
import path from 'node:path';
import type { ModelInfo } from '../../src/core/model/info.ts';
import { type Tower, TOWERS, onnxFileOf } from '../../src/core/precision.ts';
import { readOnnx, stageOnnx, type Staged } from '../onnx/io.ts';
import { encodeModel, type ModelProto } from '../onnx/model.ts';
import { checkClipSignature, passesFor, runPasses, type PassOptions, type QuantVariant } from '../pipeline.ts';
import { checkLoads } from '../verify/runner.ts';
import { fp32FileOf } from './plan.ts';

/** Small models are also loaded in onnxruntime-web after every pass (big ones once, in verification). */
const LOAD_CHECK_BYTES = 64 * 2 ** 20;

export interface MadeVariant {
  staged: Staged;
  variant: QuantVariant;
  tower: Tower;
  passes: { pass: string; ms: number; report: Record<string, unknown> }[];
}

/** What was learnt of the float32 towers while reading them. */
export interface Fp32Files {
  /** Bytes per tower, external data included. */
  sizes: Map<Tower, number>;
  /** External data files per tower, relative to the model file. */
  external: Map<Tower, string[]>;
}

/**
 * Runs the passes of every asked variant of `towers` and stages each result. Every float32 tower
 * (asked or not) has its CLIP signature checked. Each staged variant is pushed to `made` as soon
 * as it exists, so that a caller's clean-up can discard them when a later one fails.
 */
export async function makeVariants(
  dir: string,
  info: ModelInfo,
  towers: readonly Tower[],
  asked: { variants: readonly QuantVariant[]; passes?: PassOptions },
  made: MadeVariant[],
  log: (line: string) => void,
): Promise<Fp32Files> {
  const fp32: Fp32Files = { sizes: new Map(), external: new Map() };
  for (const tower of TOWERS) {
    if (!info.variants.fp32?.[tower]) continue;
    const file = fp32FileOf(dir, info, tower);
    const src = await readOnnx(file);
    fp32.external.set(tower, [...src.externalData.keys()]);
    fp32.sizes.set(tower, [...src.externalData.values()].reduce((a, d) => a + d.byteLength, src.bytes.byteLength));
    checkClipSignature(src.decode(), tower, file);
    if (!towers.includes(tower)) continue;
    for (const variant of asked.variants) {
      const out = path.join(dir, onnxFileOf(tower, variant));
      const label = `${variant} ${tower}`;
      log(`${label}: ${path.basename(file)} → ${path.basename(out)}`);
      const loadCheck = fp32.sizes.get(tower)! <= LOAD_CHECK_BYTES ? (m: ModelProto, where: string) => checkLoads(encodeModel(m), where) : undefined;
      const result = await runPasses(src.decode(), passesFor(variant, asked.passes), { where: out, tower, log: (m) => log(`${label}: ${m}`) }, loadCheck);
      const staged = await stageOnnx(out, result.model);
      staged.bytes = undefined;
      made.push({ staged, variant, tower, passes: result.reports.map((r) => ({ pass: r.pass, ms: r.ms, report: r.report })) });
    }
  }
  return fp32;
}
