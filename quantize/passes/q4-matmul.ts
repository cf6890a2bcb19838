import { ClipEdgeError } from '../../src/core/errors.ts';
import { intAttr } from '../onnx/attrs.ts';
import { DT, tensorProto, type NodeProto } from '../onnx/model.ts';
import { bytesOf, floatValues } from '../onnx/tensor.ts';
import { NAMES } from '../names.ts';
import { nBitBlockwise } from '../quant/math.ts';
import { weightedNodes, type WeightSelection } from '../quant/select.ts';
import type { Pass } from './pass.ts';

export interface Q4Options extends WeightSelection {
  /** Rows of K sharing one scale and zero point (a power of two ≥ 16). @defaultValue 32 */
  blockSize?: number;
  /**
   * Bits per weight. 8 was tried for Workers in place (issue 28): the kernel still dequantizes to
   * float32 per run in ORT-web's WASM build, so it is slower than MatMulInteger there
   * (bench/results/prepack.md). @defaultValue 4
   */
  bits?: 4 | 8;
}

/**
 * MatMul by a constant float32 weight [K, N] → com.microsoft MatMulNBits (4-bit, block-wise,
 * asymmetric, weight-only). ORT-web 1.30's WASM build runs it, but dequantizes to float32 GEMM:
 * the gain is size (≈ 1/7 of float32 per weight), not speed — it ran 1.9× slower than float32
 * MatMul on ViT-B/32-sized layers at batch 1 (bench/results/quantize-vit-b-32-random.md).
 */
export function q4MatMulPass(options: Q4Options = {}): Pass {
  const block = options.blockSize ?? 32;
  const bits = options.bits ?? 4;
  if (bits !== 4 && bits !== 8) throw new ClipEdgeError('BAD_INPUT', `MatMulNBits bits must be 4 or 8, got ${String(bits)}`);
  if (!(block >= 16 && (block & (block - 1)) === 0)) throw new ClipEdgeError('BAD_INPUT', `q4 block size must be a power of two ≥ 16, got ${block}`);
  return {
    name: 'q4-matmul',
    run(graph, ctx) {
      const replaced = new Map<NodeProto, NodeProto[]>();
      const done = new Map<string, { q: string; scale: string; zp: string }>();
      for (const { node, x, weightName: wName, weight: w } of weightedNodes(graph, ctx.where, options, 2, (n) => n.op_type === 'MatMul')) {
        const [K, N] = w.dims as [number, number];
        let t = done.get(wName);
        if (!t) {
          const { q, scale, zeroPoint, blocks, blob } = nBitBlockwise(floatValues(w), K, N, block, bits);
          t = {
            q: graph.uniqueName(NAMES.quantWeight(wName, bits === 4 ? 'q4' : 'q8')),
            scale: graph.uniqueName(NAMES.weightScale(wName)),
            zp: graph.uniqueName(NAMES.weightZeroPoint(wName)),
          };
          graph.initializers.push(
            tensorProto(t.q, DT.UINT8, [N, blocks, blob], q),
            tensorProto(t.scale, DT.FLOAT, [N * blocks], bytesOf(scale)),
            tensorProto(t.zp, DT.UINT8, [zeroPoint.length], zeroPoint),
          );
          done.set(wName, t);
        }
        const base = node.name || node.output[0]!;
        replaced.set(node, [
          {
            input: [x, t.q, t.scale, t.zp],
            output: [node.output[0]!],
            name: graph.uniqueName(NAMES.quantNode(base, 'MatMulNBits')),
            op_type: 'MatMulNBits',
            domain: 'com.microsoft',
            attribute: [intAttr('K', K), intAttr('N', N), intAttr('bits', bits), intAttr('block_size', block)],
          },
        ]);
      }
      if (replaced.size) graph.requireOpset('com.microsoft', 1);
      graph.nodes = graph.nodes.flatMap((n) => replaced.get(n) ?? [n]);
      const removed = graph.removeUnused();
      if (replaced.size) ctx.log(`q4-matmul: ${replaced.size} MatMul → MatMulNBits (${bits}-bit, block ${block})`);
      return { quantizedNodes: replaced.size, removedInitializers: removed, blockSize: block, bits };
    },
  };
}
