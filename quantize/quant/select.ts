import { ClipEdgeError } from '../../src/core/errors.ts';
import { DT, numel, type NodeProto, type TensorProto } from '../onnx/model.ts';

/** Which weights a quantization pass takes. */
export interface WeightSelection {
  /**
   * Nodes left in float32: node names, or `*` patterns over node names (`/visual/blocks.0/*`).
   * @defaultValue []
   */
  exclude?: readonly string[];
  /** Weights with fewer elements stay float32 (their bytes do not matter, their precision might). @defaultValue 1024 */
  minElements?: number;
}

/** `*` matches any run of characters; everything else is literal. */
export function nameMatcher(patterns: readonly string[]): (name: string) => boolean {
  const res = patterns.map((p) => {
    if (!p) throw new ClipEdgeError('BAD_INPUT', 'an exclusion pattern is empty');
    return new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  });
  return (name) => res.some((r) => r.test(name));
}

/** A float32 initializer of the given rank and size that the selection allows, else undefined. */
export function selectWeight(
  node: NodeProto,
  weight: TensorProto | undefined,
  rank: number,
  sel: WeightSelection,
  excluded: (name: string) => boolean,
): TensorProto | undefined {
  if (!weight || weight.data_type !== DT.FLOAT || weight.dims.length !== rank || weight.data_location === 1) return undefined;
  if (numel(weight.dims) < (sel.minElements ?? 1024)) return undefined;
  if (excluded(node.name ?? '')) return undefined;
  return weight;
}
