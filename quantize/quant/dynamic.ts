import { intAttr } from '../onnx/attrs.ts';
import { DT, type AttributeProto, type NodeProto } from '../onnx/model.ts';
import type { Graph } from '../graph/graph.ts';
import { NAMES } from '../names.ts';

/** Quantizes float32 activations for the integer ops: [quantized, scale, zeroPoint] value names per activation. */
export interface ActivationQuantizer {
  of(value: string): readonly [string, string, string];
  /** Nodes to insert right after each activation is produced, keyed by the activation. */
  readonly pending: Map<string, NodeProto[]>;
}

/**
 * One DynamicQuantizeLinear per float32 activation, shared by every quantized reader of it (Q, K
 * and V projections read the same value): returns [quantized, scale, zeroPoint] value names and
 * the node to insert (once) right after the activation is produced. Its scale is one per tensor:
 * over the whole batch (see per-image.ts for activations where that matters).
 */
export class DynamicQuantizer implements ActivationQuantizer {
  private readonly made = new Map<string, readonly [string, string, string]>();
  readonly pending = new Map<string, NodeProto[]>();

  constructor(private readonly graph: Graph) {}

  of(value: string): readonly [string, string, string] {
    let names = this.made.get(value);
    if (!names) {
      const [q, s, z] = NAMES.dqlOutputs(value);
      names = [this.graph.uniqueName(q), this.graph.uniqueName(s), this.graph.uniqueName(z)] as const;
      this.pending.set(value, [
        {
          input: [value],
          output: [...names],
          name: this.graph.uniqueName(NAMES.dqlNode(value)),
          op_type: 'DynamicQuantizeLinear',
          attribute: [],
        },
      ]);
      this.made.set(value, names);
    }
    return names;
  }
}

/**
 * Rebuilds the node list with replacements: each replaced node gives way to its new nodes, and
 * each pending DynamicQuantizeLinear goes right after its activation's producer (or first, for a
 * graph input), which keeps the list in topological order.
 */
export function splice(graph: Graph, replaced: Map<NodeProto, NodeProto[]>, ...quantizers: ActivationQuantizer[]): void {
  const out: NodeProto[] = [];
  const producers = graph.producers();
  for (const dq of quantizers) for (const [value, ns] of dq.pending) if (!producers.has(value)) out.push(...ns);
  for (const node of graph.nodes) {
    out.push(...(replaced.get(node) ?? [node]));
    for (const o of node.output) for (const dq of quantizers) out.push(...(dq.pending.get(o) ?? []));
  }
  graph.nodes = out;
}

/** `Cast(int32 → float32)` then `Mul` by the activation scale times the weight scales: as onnxruntime's dynamic quantizer writes it. */
export function rescale(graph: Graph, base: string, int32Value: string, activationScale: string, weightScale: string, output: string): NodeProto[] {
  const v = (step: string) => graph.uniqueName(NAMES.quantValue(base, step));
  const nm = (step: string) => graph.uniqueName(NAMES.quantNode(base, step));
  const cast = v('Cast');
  const scale = v('Scale');
  return [
    { input: [int32Value], output: [cast], name: nm('Cast'), op_type: 'Cast', attribute: [intAttr('to', DT.FLOAT)] },
    { input: [activationScale, weightScale], output: [scale], name: nm('Scale'), op_type: 'Mul', attribute: [] },
    { input: [cast, scale], output: [output], name: nm('Rescale'), op_type: 'Mul', attribute: [] },
  ];
}

/**
 * The int8 passes' replacement of one float32 node reading activation `x`: `op`(x_u8, weight,
 * x_zp[, weight_zp]) on the shared DynamicQuantizeLinear of `x`, the rescale to float32, and an
 * Add of `bias` when given. The last node writes the replaced node's output.
 */
export function integerNodes(
  graph: Graph,
  dq: ActivationQuantizer,
  node: NodeProto,
  x: string,
  op: 'ConvInteger' | 'MatMulInteger',
  weight: { q: string; scale: string; zeroPoint?: string },
  bias: string | undefined,
  attribute: AttributeProto[] = [],
): NodeProto[] {
  const base = node.name || node.output[0]!;
  const [xq, xs, xz] = dq.of(x);
  const int32 = graph.uniqueName(NAMES.quantValue(base, op));
  const out = node.output[0]!;
  const product = bias ? graph.uniqueName(NAMES.quantValue(base, 'Product')) : out;
  const nodes: NodeProto[] = [
    { input: [xq, weight.q, xz, ...(weight.zeroPoint ? [weight.zeroPoint] : [])], output: [int32], name: graph.uniqueName(NAMES.quantNode(base, op)), op_type: op, attribute },
    ...rescale(graph, base, int32, xs, weight.scale, product),
  ];
  if (bias) nodes.push({ input: [product, bias], output: [out], name: graph.uniqueName(NAMES.quantNode(base, 'Bias')), op_type: 'Add', attribute: [] });
  return nodes;
}

/**
 * x·W = scale · (q·W) + lo · colsum(W) for an activation quantized with an offset (PerTokenQuantizer): adds the
 * last term after integerNodes' rescale (before any bias), keeping the node's output name last. For a Conv,
 * `colsum` is the weight's sum per output channel ([1, M, 1, 1]), exact when the Conv pads nothing.
 */
export function addOffset(graph: Graph, nodes: NodeProto[], offset: string, colsum: string): void {
  // integerNodes: [MatMulInteger, Cast, Mul (scales), Mul (rescale), Add (bias)?].
  const rescaled = nodes[3]!;
  const out = rescaled.output[0]!;
  const base = graph.uniqueName(`${out}/before_offset`);
  const term = graph.uniqueName(`${out}/offset_term`);
  rescaled.output[0] = base;
  const at = nodes.indexOf(rescaled) + 1;
  nodes.splice(at, 0,
    { input: [offset, colsum], output: [term], name: graph.uniqueName(`${out}/OffsetTerm`), op_type: 'Mul', attribute: [] },
    { input: [base, term], output: [out], name: graph.uniqueName(`${out}/AddOffset`), op_type: 'Add', attribute: [] },
  );
}
