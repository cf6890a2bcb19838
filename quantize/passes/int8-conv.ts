import { attrInt } from '../onnx/attrs.ts';
import { DT, tensorProto, type NodeProto } from '../onnx/model.ts';
import { bytesOf, floatValues } from '../onnx/tensor.ts';
import { NAMES } from '../names.ts';
import { DynamicQuantizer, integerNodes, splice } from '../quant/dynamic.ts';
import { uint8PerChannelZp128 } from '../quant/math.ts';
import { weightedNodes, type WeightSelection } from '../quant/select.ts';
import type { Pass } from './pass.ts';

/**
 * 2-D Conv (group 1) by a constant float32 weight [M, C, kh, kw] → DynamicQuantizeLinear(x) +
 * ConvInteger(x_u8, W_u8, x_zp, 128) + Cast + Mul(x_scale · w_scale[1, M, 1, 1]) (+ Add bias).
 * Weights are uint8 — ORT-web has no ConvInteger kernel for int8 weights — with one scale per
 * output channel and the zero point 128 (ORT's ConvInteger takes only a per-tensor zero point).
 * In CLIP this is the vision patch embedding.
 */
export function int8ConvPass(sel: WeightSelection = {}): Pass {
  return {
    name: 'int8-conv',
    run(graph, ctx) {
      const inits = graph.initializerMap();
      const dq = new DynamicQuantizer(graph);
      const replaced = new Map<NodeProto, NodeProto[]>();
      const convs = weightedNodes(graph, ctx.where, sel, 4, (n) => n.op_type === 'Conv' && attrInt(n, 'group', 1) === 1);
      for (const { node, x, weightName: wName, weight: w, bias } of convs) {
        const M = w.dims[0]!;
        const { q, scale } = uint8PerChannelZp128(floatValues(w), M);
        const weight = { q: graph.uniqueName(NAMES.quantWeight(wName, 'uint8')), scale: graph.uniqueName(NAMES.weightScale(wName)), zeroPoint: graph.uniqueName(NAMES.weightZeroPoint(wName)) };
        graph.initializers.push(
          tensorProto(weight.q, DT.UINT8, w.dims, q),
          tensorProto(weight.scale, DT.FLOAT, [1, M, 1, 1], bytesOf(scale)),
          tensorProto(weight.zeroPoint, DT.UINT8, [], Uint8Array.of(128)),
        );
        // A 1-D bias [M] becomes [1, M, 1, 1] to broadcast over ConvInteger's NCHW output.
        const b = bias ? inits.get(bias) : undefined;
        const biasIn = b && b.dims.length === 1 ? graph.uniqueName(NAMES.quantValue(node.name || node.output[0]!, 'BiasNCHW')) : bias;
        if (b && biasIn !== bias) graph.initializers.push(tensorProto(biasIn!, DT.FLOAT, [1, M, 1, 1], bytesOf(floatValues(b))));
        // ConvInteger takes Conv's geometry attributes (kernel_shape, strides, pads, dilations, group).
        const geometry = node.attribute.filter((a) => ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides'].includes(a.name ?? ''));
        replaced.set(node, integerNodes(graph, dq, node, x, 'ConvInteger', weight, biasIn, geometry));
      }
      splice(graph, replaced, dq);
      const removed = graph.removeUnused();
      if (replaced.size) ctx.log(`int8-conv: ${replaced.size} Conv → ConvInteger (uint8 weights)`);
      return { quantizedNodes: replaced.size, removedInitializers: removed };
    },
  };
}
