import { ClipEdgeError } from '../../src/core/errors.ts';
import { DT, numel, type NodeProto, type TensorProto } from '../onnx/model.ts';
import { inferTypes } from '../graph/dtypes.ts';
import type { Graph } from '../graph/graph.ts';

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

/** A node that reads a float32 activation (input 0) and a constant float32 weight (input 1) the selection admits. */
export interface WeightedNode {
  node: NodeProto;
  x: string;
  weightName: string;
  weight: TensorProto;
  /** Input 2 (Conv's and Gemm's bias), when present. */
  bias: string | undefined;
}

/**
 * The nodes a weight-quantizing pass rewrites: those `accept` takes (the default ONNX domain only),
 * whose activation is float32 (`where` names the file in type-inference errors) and whose weight
 * `selectWeight` admits at `rank`.
 */
export function weightedNodes(graph: Graph, where: string, sel: WeightSelection, rank: number, accept: (node: NodeProto) => boolean): WeightedNode[] {
  const excluded = nameMatcher(sel.exclude ?? []);
  const inits = graph.initializerMap();
  const types = inferTypes(graph, where);
  const found: WeightedNode[] = [];
  for (const node of graph.nodes) {
    if (node.domain || !accept(node)) continue;
    const [x, weightName, bias] = node.input;
    if (!x || !weightName || types.get(x) !== DT.FLOAT) continue;
    const weight = selectWeight(node, inits.get(weightName), rank, sel, excluded);
    if (weight) found.push({ node, x, weightName, weight, bias: bias || undefined });
  }
  return found;
}
