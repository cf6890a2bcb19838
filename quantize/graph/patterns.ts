import type { NodeProto } from '../onnx/model.ts';
import type { Graph } from './graph.ts';

/**
 * Subgraphs whose arithmetic overflows or loses too much in float16, found by shape: a layer
 * normalisation decomposed into elementwise ops (exports below opset 17) and an L2 normalisation
 * (CLIP's final `x / ‖x‖`). The fp16 pass keeps the nodes returned here in float32.
 */
export type Fp32Pattern = 'layernorm' | 'l2norm';

const is = (n: NodeProto | undefined, ...ops: string[]): n is NodeProto => !!n && !n.domain && ops.includes(n.op_type ?? '');

export function findFp32Patterns(graph: Graph, patterns: readonly Fp32Pattern[]): Map<NodeProto, Fp32Pattern> {
  const consumers = graph.consumers();
  const producers = graph.producers();
  const readers = (v: string | undefined) => (v ? consumers.get(v) ?? [] : []);
  const found = new Map<NodeProto, Fp32Pattern>();
  const mark = (kind: Fp32Pattern, nodes: NodeProto[]) => nodes.forEach((n) => found.set(n, kind));

  /** Follows `value` through norm epsilons/broadcasts (Clip, Max, Add, Expand) to a Div(x, ·) or Mul(x, Reciprocal(·)). */
  const toDivision = (value: string, x: string, path: NodeProto[]): NodeProto[] | undefined => {
    for (const n of readers(value)) {
      if (is(n, 'Div') && n.input[0] === x && n.input[1] === value) return [...path, n];
      if (is(n, 'Reciprocal')) {
        const mul = readers(n.output[0]).find((m) => is(m, 'Mul') && m.input.includes(x));
        if (mul) return [...path, n, mul];
      }
      if (is(n, 'Clip', 'Max', 'Add', 'Expand') && n.input[0] === value) {
        const rest = toDivision(n.output[0]!, x, [...path, n]);
        if (rest) return rest;
      }
    }
    return undefined;
  };
  const isSquareOf = (n: NodeProto | undefined, x: string) =>
    (is(n, 'Pow') && n.input[0] === x) || (is(n, 'Mul') && n.input[0] === x && n.input[1] === x);

  for (const n of graph.nodes) {
    if (patterns.includes('layernorm') && is(n, 'ReduceMean')) {
      // mean → x - mean → square → mean → + eps → sqrt → divide
      const x = n.input[0]!;
      const sub = readers(n.output[0]).find((s) => is(s, 'Sub') && s.input[0] === x && s.input[1] === n.output[0]);
      const d = sub?.output[0];
      const sq = readers(d).find((p) => isSquareOf(p, d!));
      const mean2 = readers(sq?.output[0]).find((r) => is(r, 'ReduceMean'));
      const add = readers(mean2?.output[0]).find((a) => is(a, 'Add'));
      const sqrt = readers(add?.output[0]).find((q) => is(q, 'Sqrt'));
      const div = sqrt && d ? toDivision(sqrt.output[0]!, d, []) : undefined;
      if (sub && sq && mean2 && add && sqrt && div) mark('layernorm', [n, sub, sq, mean2, add, sqrt, ...div]);
    }
    if (patterns.includes('l2norm')) {
      if (is(n, 'ReduceL2')) {
        const div = toDivision(n.output[0]!, n.input[0]!, []);
        if (div) mark('l2norm', [n, ...div]);
      }
      if (is(n, 'Sqrt')) {
        const sum = producers.get(n.input[0]!);
        const sq = is(sum, 'ReduceSum') ? producers.get(sum.input[0]!) : undefined;
        const x = sq?.input[0];
        if (sum && sq && x && isSquareOf(sq, x) && !found.has(n)) {
          const div = toDivision(n.output[0]!, x, []);
          if (div) mark('l2norm', [sq, sum, n, ...div]);
        }
      }
    }
  }
  return found;
}
