import { attrInt } from '../onnx/attrs.ts';
import { DT, numel, tensorProto, type NodeProto, type TensorProto } from '../onnx/model.ts';
import type { Graph } from '../graph/graph.ts';
import { bytesOf, floatValues } from '../onnx/tensor.ts';
import { NAMES } from '../names.ts';
import { addOffset, DynamicQuantizer, integerNodes, splice } from '../quant/dynamic.ts';
import { isNonNegative, PerImageQuantizer, perImageFor, PerTokenQuantizer, type ActivationMode } from '../quant/per-image.ts';
import { uint8PerChannelZp128 } from '../quant/math.ts';
import { weightedNodes, type WeightSelection } from '../quant/select.ts';
import type { Pass } from './pass.ts';

/**
 * 2-D Conv (group 1) by a constant float32 weight [M, C, kh, kw] → DynamicQuantizeLinear(x) +
 * ConvInteger(x_u8, W_u8, x_zp, 128) + Cast + Mul(x_scale · w_scale[1, M, 1, 1]) (+ Add bias).
 * Weights are uint8 — ORT-web has no ConvInteger kernel for int8 weights — with one scale per
 * output channel and the zero point 128 (ORT's ConvInteger takes only a per-tensor zero point).
 * In a ViT this is the patch embedding; in a ResNet every Conv.
 *
 * Activations: a non-negative one (a ReLU's output, pooled or not: every ResNet Conv after the
 * first) is quantized with one scale per image (PerImageQuantizer), so an image's embedding does
 * not depend on the others in its batch. A signed one (the pixels: a ViT's patch Conv) read by a
 * Conv that pads nothing gets one range per image too, lo..hi over C, H, W, with the offset
 * lo · Σ W added back per output channel (as the per-token MatMuls do; with padding that sum would
 * be wrong at the borders, so a padded Conv on signed input stays per batch). `per-batch` uses
 * DynamicQuantizeLinear everywhere.
 *
 * In a CNN the leading Convs (the stem and first stage at full resolution) stay float32 as long as
 * their weights add up to at most `leadingFloat` of all Conv weights: they cost almost nothing in
 * bytes, and their quantization error is the one every later layer amplifies (RN50 stand-in: int8
 * cosine to fp32 0.987 mean / 0.949 min with them quantized, 0.995 / 0.984 without; docs/models.md).
 */
export function int8ConvPass(sel: WeightSelection = {}, activations: ActivationMode = 'auto', leadingFloat = CNN_LEADING_FLOAT): Pass {
  return {
    name: 'int8-conv',
    run(graph, ctx) {
      const inits = graph.initializerMap();
      const dq = new DynamicQuantizer(graph);
      const perImage = new PerImageQuantizer(graph);
      const perImageSigned = new PerTokenQuantizer(graph, [1, 2, 3], true);
      const producers = graph.producers();
      const perImageOn = perImageFor(graph, activations);
      const replaced = new Map<NodeProto, NodeProto[]>();
      const all = weightedNodes(graph, ctx.where, sel, 4, (n) => n.op_type === 'Conv' && attrInt(n, 'group', 1) === 1);
      const leading = perImageOn ? leadingConvs(graph, inits, leadingFloat) : new Set<NodeProto>();
      const convs = all.filter((c) => !leading.has(c.node));
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
        const aq = !perImageOn ? dq : isNonNegative(graph, x, producers) ? perImage : padsNothing(node) ? perImageSigned : dq;
        const nodes = integerNodes(graph, aq, node, x, 'ConvInteger', weight, biasIn, geometry);
        if (aq === perImageSigned) {
          const sum = graph.uniqueName(NAMES.quantValue(wName, 'channel_sum'));
          graph.initializers.push(tensorProto(sum, DT.FLOAT, [1, M, 1, 1], bytesOf(channelSums(q, scale, M))));
          addOffset(graph, nodes, perImageSigned.offsets.get(x)!, sum);
        }
        replaced.set(node, nodes);
      }
      splice(graph, replaced, dq, perImage, perImageSigned);
      const removed = graph.removeUnused();
      const per = perImage.pending.size + perImageSigned.pending.size;
      const kept = leading.size ? `; ${leading.size} leading Conv${leading.size > 1 ? 's' : ''} kept float32` : '';
      if (replaced.size) ctx.log(`int8-conv: ${replaced.size} Conv → ConvInteger (uint8 weights); ${per} activations quantized per image, ${dq.pending.size} per batch${kept}`);
      return { quantizedNodes: replaced.size, removedInitializers: removed, perImageActivations: per, perBatchActivations: dq.pending.size, leadingFloatConvs: leading.size };
    },
  };
}

/** A Conv with no padding: every output reads a whole kernel window, so lo · Σ W is its exact offset. */
function padsNothing(node: NodeProto): boolean {
  const autoPad = node.attribute.find((a) => a.name === 'auto_pad')?.s;
  const mode = autoPad ? new TextDecoder().decode(autoPad) : 'NOTSET';
  const pads = node.attribute.find((a) => a.name === 'pads')?.ints ?? [];
  return (mode === 'NOTSET' || mode === 'VALID') && pads.every((p) => Number(p) === 0);
}

/** Σ over C, kh, kw of each output channel's dequantized weight, (q − 128) · scale[m]: the offset's factor. */
function channelSums(q: Uint8Array, scale: Float32Array, M: number): Float32Array {
  const per = q.length / M;
  const sums = new Float32Array(M);
  for (let m = 0; m < M; m++) {
    let s = 0;
    for (let i = m * per; i < (m + 1) * per; i++) s += q[i]! - 128;
    sums[m] = s * scale[m]!;
  }
  return sums;
}

/** Share of a CNN's Conv weights its leading Convs may hold and stay float32: at RN50's shape its stem, its first stage and one more Conv (14 of 55). */
export const CNN_LEADING_FLOAT = 0.015;

/** The Convs in graph (topological) order from the first, while their weights add up to at most `fraction` of every Conv's. */
function leadingConvs(graph: Graph, inits: Map<string, TensorProto>, fraction: number): Set<NodeProto> {
  const convs = graph.nodes.filter((n) => n.op_type === 'Conv' && !n.domain);
  const size = (n: NodeProto) => numel(inits.get(n.input[1] ?? '')?.dims ?? []);
  const total = convs.reduce((s, n) => s + size(n), 0);
  const kept = new Set<NodeProto>();
  let sum = 0;
  for (const n of convs) {
    sum += size(n);
    if (sum > fraction * total) break;
    kept.add(n);
  }
  return kept;
}
