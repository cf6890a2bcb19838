import { attrInt, getAttr } from '../onnx/attrs.ts';
import { DT, tensorProto, type NodeProto } from '../onnx/model.ts';
import { bytesOf, floatValues } from '../onnx/tensor.ts';
import { NAMES } from '../names.ts';
import { addOffset, DynamicQuantizer, integerNodes, splice } from '../quant/dynamic.ts';
import { int8PerColumn } from '../quant/math.ts';
import { perImageFor, PerTokenQuantizer, type ActivationMode } from '../quant/per-image.ts';
import { weightedNodes, type WeightSelection } from '../quant/select.ts';
import type { Pass } from './pass.ts';

/**
 * MatMul (and Gemm with transA = 0, alpha = beta = 1) by a constant float32 weight [K, N] →
 * DynamicQuantizeLinear(x) + MatMulInteger(x_u8, W_s8) + Cast + Mul(x_scale · w_scale[N]) (+ Add for
 * Gemm's bias). Weights are int8, symmetric, one scale per output column. This is the form
 * onnxruntime's own dynamic quantizer writes (its MatMulIntegerToFloat fusion looks for it); in ORT-web WASM it ran at 0.40× the time of the float32 MatMul on
 * ViT-B/32-sized layers (batch 1), where DequantizeLinear → MatMul (weight-only) took 1.9×
 * (bench/results/quantize-vit-b-32-random.md).
 *
 * In a CNN tower (`activations` `auto`, quant/per-image.ts) the activations are quantized per token
 * instead (PerTokenQuantizer): batch-independent, as the ResNets' attention pool needs.
 */
export function int8MatMulPass(sel: WeightSelection = {}, activations: ActivationMode = 'auto'): Pass {
  return {
    name: 'int8-matmul',
    run(graph, ctx) {
      const dq = perImageFor(graph, activations) ? new PerTokenQuantizer(graph) : new DynamicQuantizer(graph);
      const replaced = new Map<NodeProto, NodeProto[]>();
      const quantizedWeights = new Map<string, { q: string; scale: string; colsum?: string }>();
      let weightsBefore = 0;
      let weightsAfter = 0;
      const plainGemm = (n: NodeProto) => attrInt(n, 'transA', 0) === 0 && (getAttr(n, 'alpha')?.f ?? 1) === 1 && (getAttr(n, 'beta')?.f ?? 1) === 1;
      const matmuls = weightedNodes(graph, ctx.where, sel, 2, (n) => n.op_type === 'MatMul' || (n.op_type === 'Gemm' && plainGemm(n)));
      for (const { node, x, weightName: wName, weight: w, bias } of matmuls) {
        const gemm = node.op_type === 'Gemm';
        const transB = gemm && attrInt(node, 'transB', 0) === 1;
        const [K, N] = transB ? [w.dims[1]!, w.dims[0]!] : [w.dims[0]!, w.dims[1]!];
        let qw = quantizedWeights.get(`${wName}:${transB}`);
        if (!qw) {
          const values = floatValues(w);
          const { q, scale } = int8PerColumn(transB ? transpose(values, N, K) : values, K, N);
          qw = { q: graph.uniqueName(NAMES.quantWeight(wName, 'int8')), scale: graph.uniqueName(NAMES.weightScale(wName)) };
          graph.initializers.push(tensorProto(qw.q, DT.INT8, [K, N], bytesOf(q)), tensorProto(qw.scale, DT.FLOAT, [N], bytesOf(scale)));
          if (dq instanceof PerTokenQuantizer) {
            // colsum of the dequantized weight: the per-token offset's share of x·W (PerTokenQuantizer).
            const colsum = new Float32Array(N);
            for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) colsum[n]! += q[k * N + n]! * scale[n]!;
            qw.colsum = graph.uniqueName(NAMES.quantValue(wName, 'colsum'));
            graph.initializers.push(tensorProto(qw.colsum, DT.FLOAT, [N], bytesOf(colsum)));
          }
          quantizedWeights.set(`${wName}:${transB}`, qw);
          weightsBefore += K * N * 4;
          weightsAfter += K * N + N * 4;
        }
        const nodes = integerNodes(graph, dq, node, x, 'MatMulInteger', qw, gemm ? bias : undefined);
        if (dq instanceof PerTokenQuantizer) addOffset(graph, nodes, dq.offsets.get(x)!, qw.colsum!);
        replaced.set(node, nodes);
      }
      splice(graph, replaced, dq);
      const removed = graph.removeUnused();
      const how = dq instanceof PerTokenQuantizer ? 'quantized per token' : 'DynamicQuantizeLinear';
      if (replaced.size) ctx.log(`int8-matmul: ${replaced.size} MatMul/Gemm → MatMulInteger, ${dq.pending.size} ${how}`);
      return { quantizedNodes: replaced.size, dynamicQuantizers: dq.pending.size, removedInitializers: removed, weightBytesBefore: weightsBefore, weightBytesAfter: weightsAfter };
    },
  };
}

function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c]!;
  return t;
}
