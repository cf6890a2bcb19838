import { attrInt } from '../onnx/attrs.ts';
import { DT, tensorProto, type NodeProto } from '../onnx/model.ts';
import { bytesOf, floatValues } from '../onnx/tensor.ts';
import { inferTypes } from '../graph/dtypes.ts';
import { NAMES } from '../names.ts';
import { DynamicQuantizer, rescale, splice } from '../quant/dynamic.ts';
import { uint8PerChannelZp128 } from '../quant/math.ts';
import { nameMatcher, selectWeight, type WeightSelection } from '../quant/select.ts';
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
      const excluded = nameMatcher(sel.exclude ?? []);
      const inits = graph.initializerMap();
      const types = inferTypes(graph, ctx.where);
      const dq = new DynamicQuantizer(graph);
      const replaced = new Map<NodeProto, NodeProto[]>();
      for (const node of graph.nodes) {
        if (node.domain || node.op_type !== 'Conv' || attrInt(node, 'group', 1) !== 1) continue;
        const [x, wName, bias] = node.input;
        if (!x || !wName || types.get(x) !== DT.FLOAT) continue;
        const w = selectWeight(node, inits.get(wName), 4, sel, excluded);
        if (!w) continue;
        const M = w.dims[0]!;
        const { q, scale } = uint8PerChannelZp128(floatValues(w), M);
        const qName = graph.uniqueName(NAMES.quantWeight(wName, 'uint8'));
        const sName = graph.uniqueName(NAMES.weightScale(wName));
        const zName = graph.uniqueName(NAMES.weightZeroPoint(wName));
        graph.initializers.push(
          tensorProto(qName, DT.UINT8, w.dims, q),
          tensorProto(sName, DT.FLOAT, [1, M, 1, 1], bytesOf(scale)),
          tensorProto(zName, DT.UINT8, [], Uint8Array.of(128)),
        );
        const base = node.name || node.output[0]!;
        const [xq, xs, xz] = dq.of(x);
        const int32 = graph.uniqueName(NAMES.quantValue(base, 'ConvInteger'));
        const out = node.output[0]!;
        const product = bias ? graph.uniqueName(NAMES.quantValue(base, 'Product')) : out;
        // ConvInteger takes Conv's geometry attributes (kernel_shape, strides, pads, dilations, group).
        const geometry = node.attribute.filter((a) => ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides'].includes(a.name ?? ''));
        const nodes: NodeProto[] = [
          { input: [xq, qName, xz, zName], output: [int32], name: graph.uniqueName(NAMES.quantNode(base, 'ConvInteger')), op_type: 'ConvInteger', attribute: geometry },
          ...rescale(graph, base, int32, xs, sName, product),
        ];
        if (bias) {
          const b = inits.get(bias);
          const biasIn = b && b.dims.length === 1 ? graph.uniqueName(NAMES.quantValue(base, 'BiasNCHW')) : bias;
          if (b && biasIn !== bias) graph.initializers.push(tensorProto(biasIn, DT.FLOAT, [1, M, 1, 1], bytesOf(floatValues(b))));
          nodes.push({ input: [product, biasIn], output: [out], name: graph.uniqueName(NAMES.quantNode(base, 'Bias')), op_type: 'Add', attribute: [] });
        }
        replaced.set(node, nodes);
      }
      splice(graph, replaced, dq);
      const removed = graph.removeUnused();
      if (replaced.size) ctx.log(`int8-conv: ${replaced.size} Conv → ConvInteger (uint8 weights)`);
      return { quantizedNodes: replaced.size, removedInitializers: removed };
    },
  };
}
