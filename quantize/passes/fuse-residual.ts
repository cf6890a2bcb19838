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
 * output only the Add reads, and an Add whose output only the Relu reads. The sum is the same
 * arithmetic in another order (float rounding only). The fused node takes the Add's place in the
 * node list, where both of its inputs exist.
 *
 * ORT's WebGPU build registers FusedConv too: int8 variants are not run there (the browser's WebGPU
 * backend prefers fp16/fp32, which this pass never touches).
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
