import { ClipEdgeError } from '../../src/core/errors.ts';
import { inferTypes } from '../graph/dtypes.ts';
import type { Graph } from '../graph/graph.ts';
import { DT, type NodeProto, type TensorProto } from '../onnx/model.ts';

/**
 * Where a tower can be cut into consecutive parts: the points of its (topologically ordered) node
 * list where exactly one float32 tensor flows from the nodes before to the nodes after — the
 * residual stream between two transformer blocks. Inside a block the residual and the branch are
 * both alive (two tensors), so every such point is a block boundary (or lies in the stem/head).
 * Constant nodes and what is computed from initializers alone are not "flow": each part gets its
 * own copy of them.
 */
export interface Cut {
  /** Index (in `graph.nodes`) of the last node before the cut. */
  after: number;
  /** The one tensor crossing it: the next part's input. */
  tensor: string;
  /** Bytes of initializers (and Constant values) read by the nodes up to here, cumulative. */
  weightBytesBefore: number;
  /** The transformer block that starts after the cut (`blocks.5`, `layers.5`, `resblocks.5`), when the names say. */
  nextBlock?: string;
  /** The node before the cut is in another block (or none) than the node after it: a block boundary. */
  boundary: boolean;
}

const tensorBytes = (t: TensorProto | undefined): number =>
  t?.raw_data?.byteLength ?? (t ? t.float_data.length * 4 + t.int32_data.length * 4 + t.int64_data.length * 8 + t.double_data.length * 8 : 0);

const BLOCK = /(?:^|[/.])((?:blocks|layers|resblocks|layer)\.\d+)(?:[/.]|$)/;

/** The block a node belongs to, from its name (or its first output's). */
export const blockOf = (n: NodeProto | undefined): string | undefined => (n ? (BLOCK.exec(n.name ?? '') ?? BLOCK.exec(n.output[0] ?? ''))?.[1] : undefined);

/** Nodes computed from initializers and constants alone (Constant nodes included): copied into each part that reads them. */
export function constantNodes(graph: Graph): Set<number> {
  const known = new Set(graph.initializers.map((t) => t.name ?? ''));
  const free = new Set<number>();
  graph.nodes.forEach((n, i) => {
    if (n.op_type === 'Constant' || n.input.every((x) => !x || known.has(x))) {
      free.add(i);
      for (const o of n.output) if (o) known.add(o);
    }
  });
  return free;
}

/** Bytes of weights each node reads (initializers, and Constant nodes' values counted where they are read). */
export function nodeWeightBytes(graph: Graph, free: Set<number>): number[] {
  const inits = graph.initializerMap();
  const constBytes = new Map<string, number>();
  graph.nodes.forEach((n, i) => {
    if (!free.has(i)) return;
    const own = n.attribute.reduce((a, at) => a + tensorBytes(at.t), 0) + n.input.reduce((a, x) => a + tensorBytes(inits.get(x)) + (constBytes.get(x) ?? 0), 0);
    for (const o of n.output) constBytes.set(o, own);
  });
  const counted = new Set<string>();
  return graph.nodes.map((n, i) => {
    if (free.has(i)) return 0;
    let b = 0;
    for (const x of n.input) {
      if (!x || counted.has(x)) continue;
      const w = tensorBytes(inits.get(x)) + (constBytes.get(x) ?? 0);
      if (w) counted.add(x);
      b += w;
    }
    return b;
  });
}

/** Every point where one float32 tensor alone crosses from the nodes before to the nodes after. */
export function findCuts(graph: Graph, where: string): Cut[] {
  const nodes = graph.nodes;
  const free = constantNodes(graph);
  const types = inferTypes(graph, where);
  const outputs = new Set(graph.outputs.map((o) => o.name ?? ''));
  const producedByFree = new Set<string>();
  free.forEach((i) => nodes[i]!.output.forEach((o) => producedByFree.add(o)));
  const inits = new Set(graph.initializers.map((t) => t.name ?? ''));
  const flows = (x: string) => x !== '' && !inits.has(x) && !producedByFree.has(x);
  const lastUse = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (free.has(i)) return;
    for (const x of n.input) if (flows(x)) lastUse.set(x, i);
  });
  for (const o of outputs) lastUse.set(o, Infinity);
  const live = new Set<string>(graph.realInputs().map((v) => v.name ?? '').filter((x) => lastUse.has(x)));
  const weights = nodeWeightBytes(graph, free);
  const cuts: Cut[] = [];
  let cumulative = 0;
  const lastReal = nodes.findLastIndex((_, i) => !free.has(i));
  for (let i = 0; i < nodes.length; i++) {
    if (free.has(i)) continue;
    const n = nodes[i]!;
    cumulative += weights[i]!;
    for (const x of n.input) if (flows(x) && lastUse.get(x) === i) live.delete(x);
    for (const o of n.output) if (o && (lastUse.get(o) ?? -1) > i) live.add(o);
    if (i >= lastReal || live.size !== 1) continue;
    const [tensor] = live as Set<string>;
    if (outputs.has(tensor!) || types.get(tensor!) !== DT.FLOAT) continue;
    const next = nodes.slice(i + 1).find((_, k) => !free.has(i + 1 + k));
    const nextBlock = blockOf(next);
    cuts.push({ after: i, tensor: tensor!, weightBytesBefore: cumulative, boundary: nextBlock !== undefined && nextBlock !== blockOf(n), ...(nextBlock ? { nextBlock } : {}) });
  }
  if (!cuts.length) throw new ClipEdgeError('MODEL_INVALID', `${where}: no point where a single tensor flows between two blocks; this graph cannot be cut into consecutive parts`);
  return cuts;
}

/** Total bytes of weights the graph's computing nodes read. */
export const totalWeightBytes = (graph: Graph): number => nodeWeightBytes(graph, constantNodes(graph)).reduce((a, b) => a + b, 0);

/**
 * Picks `parts - 1` cuts, at block boundaries when there are enough of them, so that the heaviest
 * part (in weight bytes) is as light as it can be: an exact search over the candidates (a few dozen
 * boundaries, so the O(parts · candidates²) table is small).
 */
export function chooseCuts(cuts: readonly Cut[], totalBytes: number, parts: number): Cut[] {
  if (parts < 2) return [];
  // A cut with (next to) no weights after it (RN50x64: inside the attention pool's tail, after its
  // last MatMul; what follows reads 24 bytes of Reshape shape) would leave a last part that only
  // reshapes: a Worker and a hop for nothing, which the search below would otherwise take whenever
  // the heaviest part sits elsewhere.
  const useful = cuts.filter((c) => totalBytes - c.weightBytesBefore > totalBytes / 1000);
  const atBlocks = useful.filter((c) => c.boundary);
  const pool = atBlocks.length >= parts - 1 ? atBlocks : useful;
  if (pool.length < parts - 1) throw new ClipEdgeError('BAD_INPUT', `the tower has ${pool.length + 1} parts at most (${pool.length} cut points), ${parts} asked`);
  // Positions 0..m: 0 = the start, j = after pool[j-1], m+1 = the end.
  const at = [0, ...pool.map((c) => c.weightBytesBefore), totalBytes];
  const m = pool.length;
  // best[k][j]: the lightest heaviest part when k parts cover the tower up to position j (j ≤ m).
  const best: number[][] = Array.from({ length: parts }, () => new Array<number>(m + 2).fill(Infinity));
  const from: number[][] = Array.from({ length: parts }, () => new Array<number>(m + 2).fill(-1));
  for (let j = 1; j <= m; j++) best[1]![j] = at[j]!;
  for (let k = 2; k < parts; k++) {
    for (let j = k; j <= m; j++) {
      for (let i = k - 1; i < j; i++) {
        const v = Math.max(best[k - 1]![i]!, at[j]! - at[i]!);
        if (v < best[k]![j]!) [best[k]![j], from[k]![j]] = [v, i];
      }
    }
  }
  // The last part runs from the last cut to the end.
  let last = -1;
  let bestMax = Infinity;
  for (let j = parts - 1; j <= m; j++) {
    const v = Math.max(best[parts - 1]![j]!, totalBytes - at[j]!);
    if (v < bestMax) [bestMax, last] = [v, j];
  }
  const chosen: number[] = [last];
  for (let k = parts - 1; k >= 2; k--) chosen.unshift(from[k]![chosen[0]!]!);
  return chosen.map((j) => pool[j - 1]!);
}
