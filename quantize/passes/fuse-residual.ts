import { stringAttr } from '../onnx/attrs.ts';
import { DT, type NodeProto } from '../onnx/model.ts';
import type { Graph } from '../graph/graph.ts';
import type { Pass } from './pass.ts';

/**
 * A CNN's float32 residual joins, `Relu(Add(Conv(x, W, B), z))`, as one
 * `com.microsoft.FusedConv(x, W, B, z)` with `activation = "Relu"`: onnxruntime's CPU kernel (the
 * WASM build's too) starts from `z` and accumulates the convolution onto it, in `z`'s own buffer
 * when nothing reads `z` afterwards. A bottleneck block then ends with one activation-sized tensor
 * live instead of three (the Conv's output, the sum and the block's input): RN50x64's `layer1`
 * block at 448 px (512 × 112 × 112 floats, 25.7 MB each) peaks at 73.8 instead of 98.3 MiB of ORT
 * heap (bench/results/residual-fusion.md). ORT does not make this fusion itself at the
 * `basic` level the `.ort` files are written at, nor at `all` in the WASM build.
 *
 * Only Convs with a float32 weight (in an int8 variant: the leading Convs a CNN keeps float32), whose
 * output only the Add reads, and an Add whose output only the Relu reads. FusedConv adds `z` element
 * by element where Add broadcasts, so `z` must have the Conv output's shape: where the graph declares
 * both shapes they must be equal; otherwise `z` must be another convolution's output with as many
 * channels (seen through the element-wise ops after it: a ReLU, an int8 Conv's rescale and bias), or
 * a graph input declared so, never a constant (a bias added after the Conv broadcasts; ORT's kernel
 * refuses a `z` of another shape). The sum is the same arithmetic in another order (float rounding
 * only). The fused node takes the Add's place in the node list, where both of its inputs exist.
 *
 * ORT's WebGPU Conv kernel does not read `z`: the browser's WebGPU backend does not run int8 vision
 * variants (`Backend.runs`); fp32/fp16 variants, which this pass never touches, run there.
 */
export function fuseResidualPass(): Pass {
  return {
    name: 'fuse-residual',
    run(graph, ctx) {
      const fused = fuseResiduals(graph);
      if (fused) ctx.log(`fuse-residual: ${fused} Conv + Add + Relu → FusedConv (the residual summed in place)`);
      return { fusedNodes: fused };
    },
    // A tower without residual joins (a ViT) keeps the files it had before this pass existed.
    idle: (report) => report.fusedNodes === 0,
  };
}

const only = <T>(xs: readonly T[] | undefined): T | undefined => (xs?.length === 1 ? xs[0] : undefined);

/** Rewrites the graph's residual joins; returns how many. */
export function fuseResiduals(graph: Graph): number {
  const consumers = graph.consumers();
  const producers = graph.producers();
  const inits = graph.initializerMap();
  const outputs = new Set(graph.outputs.map((o) => o.name ?? ''));
  const shapes = declaredShapes(graph);
  const replace = new Map<NodeProto, NodeProto>();
  const drop = new Set<NodeProto>();
  for (const add of graph.nodes) {
    if (add.op_type !== 'Add' || add.domain || add.input.length !== 2) continue;
    const sum = add.output[0]!;
    const relu = only(consumers.get(sum));
    if (!relu || relu.op_type !== 'Relu' || relu.domain || outputs.has(sum)) continue;
    for (const k of [0, 1] as const) {
      const conv = producers.get(add.input[k]!);
      const z = add.input[1 - k]!;
      if (!conv || conv.op_type !== 'Conv' || conv.domain || drop.has(conv) || z === add.input[k]) continue;
      const convOut = conv.output[0]!;
      if (only(consumers.get(convOut)) !== add || outputs.has(convOut)) continue;
      const w = inits.get(conv.input[1] ?? '');
      if (!w || w.data_type !== DT.FLOAT || w.dims.length !== 4) continue;
      if (!sameShapeAs(z, convOut, Number(w.dims[0]), { producers, inits, shapes })) continue;
      replace.set(add, {
        name: conv.name,
        op_type: 'FusedConv',
        domain: 'com.microsoft',
        input: [conv.input[0]!, conv.input[1]!, conv.input[2] ?? '', z],
        output: [relu.output[0]!],
        attribute: [...conv.attribute.filter((a) => a.name !== 'activation'), stringAttr('activation', 'Relu')],
      });
      drop.add(conv).add(relu);
      break;
    }
  }
  if (!replace.size) return 0;
  graph.nodes = graph.nodes.filter((n) => !drop.has(n)).map((n) => replace.get(n) ?? n);
  graph.requireOpset('com.microsoft', 1);
  return replace.size;
}

type Dims = readonly (number | string | undefined)[];

/** Shapes the graph declares (inputs, outputs, value_info), dims as numbers or symbolic names. */
function declaredShapes(graph: Graph): Map<string, Dims> {
  const m = new Map<string, Dims>();
  for (const v of [...graph.inputs, ...graph.outputs, ...graph.proto.value_info]) {
    const dims = v.type?.tensor_type?.shape?.dim;
    if (v.name && dims) m.set(v.name, dims.map((d) => d.dim_value ?? d.dim_param));
  }
  return m;
}

/** Element-wise ops `z` may come through from its convolution (ReLU; an int8 Conv's Cast, rescale and bias). */
const ELEMENTWISE = new Set(['Relu', 'Identity', 'Cast', 'Mul', 'Add', 'Div', 'Sub']);
const CONVS = new Set(['Conv', 'FusedConv', 'ConvInteger']);

/** Whether `z` has the shape of `convOut` (a Conv with `channels` output channels): declared equal, or by construction. */
function sameShapeAs(
  z: string,
  convOut: string,
  channels: number,
  g: { producers: Map<string, NodeProto>; inits: Map<string, unknown>; shapes: Map<string, Dims> },
): boolean {
  const [a, b] = [g.shapes.get(z), g.shapes.get(convOut)];
  if (a && b && a.every((d) => d !== undefined) && b.every((d) => d !== undefined)) return a.length === b.length && a.every((d, i) => d === b[i]);
  // By construction: back through element-wise ops along the activations (not the constants) to a convolution.
  const constant = (v: string) => g.inits.has(v) || g.producers.get(v)?.op_type === 'Constant';
  const fromConv = (v: string, depth: number): boolean => {
    if (depth > 8 || constant(v)) return false;
    const p = g.producers.get(v);
    if (!p) {
      // A graph input (a split part's first block): its declared shape, NCHW with these channels and no broadcast axis.
      const d = g.shapes.get(v);
      return !!d && d.length === 4 && d[1] === channels && d[2] !== 1 && d[3] !== 1;
    }
    if (CONVS.has(p.op_type ?? '')) {
      const w = g.inits.get(p.input[1] ?? '') as { dims?: readonly (number | bigint)[] } | undefined;
      return Number(w?.dims?.[0]) === channels;
    }
    if (!ELEMENTWISE.has(p.op_type ?? '')) return false;
    // A join of two activations (the previous block's residual Add) is at least as large as either side.
    return p.input.some((x) => !!x && !constant(x) && fromConv(x, depth + 1));
  };
  return fromConv(z, 0);
}
