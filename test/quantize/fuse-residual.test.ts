// The fuse-residual pass (quantize/passes/fuse-residual.ts): a CNN's float32 `Relu(Add(Conv(x), z))`
// becomes one com.microsoft.FusedConv(x, W, B, z, activation Relu), which onnxruntime-web runs to the
// same outputs (float rounding only: the sum in another order), also when z's producer comes after
// the Conv in the node list; joins it must not touch are left as they are.
import { describe, expect, it } from 'vitest';
import { intsAttr } from '../../quantize/onnx/attrs.ts';
import { buildModel, node } from '../../quantize/onnx/build.ts';
import { DT, type ModelProto, type NodeProto } from '../../quantize/onnx/model.ts';
import { floatTensor } from '../../quantize/onnx/tensor.ts';
import { checkGraph } from '../../quantize/graph/check.ts';
import { Graph } from '../../quantize/graph/graph.ts';
import { fuseResiduals } from '../../quantize/passes/fuse-residual.ts';
import { passesFor, runPasses } from '../../quantize/pipeline.ts';
import { maxAbsDiff, ort, rand, runOrt } from './toy.ts';

const [B, C, H] = [2, 8, 10];
const pad1 = [intsAttr('kernel_shape', [3, 3]), intsAttr('pads', [1, 1, 1, 1])];

/**
 * A bottleneck: r = Relu(x); main = Conv3x3 → Relu → Conv1x1(+bias); the identity either r itself
 * or a 1×1 downsample Conv of r listed after the main branch; y = Relu(main + identity).
 */
function block(o: { downsample?: boolean; extraReader?: boolean; noRelu?: boolean; yIsSum?: boolean; biasAfter?: boolean } = {}): ModelProto {
  const nodes: NodeProto[] = [
    node({ op: 'Relu', inputs: ['x'], outputs: ['r'] }),
    node({ op: 'Conv', inputs: ['r', 'w1', 'b1'], outputs: ['c1'], attrs: pad1 }),
    node({ op: 'Relu', inputs: ['c1'], outputs: ['a1'] }),
    node({ op: 'Conv', inputs: ['a1', 'w2', 'b2'], outputs: ['c2'], attrs: [intsAttr('kernel_shape', [1, 1])] }),
  ];
  if (o.downsample) nodes.push(node({ op: 'Conv', inputs: ['r', 'wd'], outputs: ['ds'], attrs: [intsAttr('kernel_shape', [1, 1])] }));
  nodes.push(node({ op: 'Add', inputs: ['c2', o.biasAfter ? 'zc' : o.downsample ? 'ds' : 'r'], outputs: ['s'] }));
  const outputs = [{ name: o.yIsSum ? 's' : 'out', elemType: DT.FLOAT, shape: ['b', C, H, H] }];
  if (!o.noRelu && !o.yIsSum) nodes.push(node({ op: 'Relu', inputs: ['s'], outputs: ['y'] }));
  if (o.noRelu) nodes.push(node({ op: 'Sigmoid', inputs: ['s'], outputs: ['y'] }));
  // The block's output is read by the next layer, as in a tower (its type is then inferred, not declared).
  if (!o.yIsSum) nodes.push(node({ op: 'Neg', inputs: ['y'], outputs: ['out'] }));
  if (o.extraReader) {
    nodes.push(node({ op: 'Neg', inputs: ['c2'], outputs: ['n'] }));
    outputs.push({ name: 'n', elemType: DT.FLOAT, shape: ['b', C, H, H] });
  }
  return buildModel({
    inputs: [{ name: 'x', elemType: DT.FLOAT, shape: ['b', C, H, H] }],
    outputs,
    initializers: [
      floatTensor('w1', [C, C, 3, 3], rand(C * C * 9, 0.2, 1)),
      floatTensor('b1', [C], rand(C, 0.1, 2)),
      floatTensor('w2', [C, C, 1, 1], rand(C * C, 0.3, 3)),
      floatTensor('b2', [C], rand(C, 0.1, 4)),
      ...(o.downsample ? [floatTensor('wd', [C, C, 1, 1], rand(C * C, 0.3, 5))] : []),
      // A per-channel constant added after the Conv: Add broadcasts it, FusedConv could not.
      ...(o.biasAfter ? [floatTensor('zc', [1, C, 1, 1], rand(C, 0.3, 6))] : []),
    ],
    nodes,
  });
}

const x = rand(B * C * H * H, 1, 9);
const feeds = () => ({ x: new ort.Tensor('float32', x, [B, C, H, H]) });

describe('fuse-residual', () => {
  it.each([
    ['the identity', { downsample: false }],
    ['a downsample Conv listed after the main branch', { downsample: true }],
  ])('Relu(Conv + %s) → one FusedConv, same outputs in onnxruntime-web', async (_, o) => {
    const before = await runOrt(block(o), feeds());
    const model = block(o);
    const graph = new Graph(model);
    expect(fuseResiduals(graph)).toBe(1);
    checkGraph(graph, 'fused'); // FusedConv's output type is known to the quantizer's checks
    const ops = graph.nodes.map((n) => n.op_type);
    expect(ops.filter((t) => t === 'FusedConv')).toHaveLength(1);
    expect(ops).not.toContain('Add');
    expect(ops.filter((t) => t === 'Relu')).toHaveLength(2); // x's and the 3×3 Conv's; the block's own went into FusedConv
    const fused = graph.nodes.find((n) => n.op_type === 'FusedConv')!;
    expect(fused).toMatchObject({ domain: 'com.microsoft', input: ['a1', 'w2', 'b2', o.downsample ? 'ds' : 'r'], output: ['y'] });
    expect(model.opset_import).toContainEqual({ domain: 'com.microsoft', version: 1 });
    const after = await runOrt(model, feeds());
    const scale = before.out!.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(scale).toBeGreaterThan(0.1);
    expect(maxAbsDiff(after.out!, before.out!)).toBeLessThanOrEqual(scale * 1e-6);
  });

  it.each([
    ['the Conv output has another reader', { extraReader: true }],
    ['the sum is not followed by a Relu', { noRelu: true }],
    ['the sum is a graph output', { yIsSum: true }],
    ['what is added is a constant that broadcasts ([1, C, 1, 1])', { biasAfter: true }],
  ] as [string, NonNullable<Parameters<typeof block>[0]>][])('leaves the join alone when %s', async (_, o) => {
    if (!o.yIsSum) expect((await runOrt(block(o), feeds())).out!.length).toBe(B * C * H * H); // a valid model as it is
    const graph = new Graph(block(o));
    const ops = graph.nodes.map((n) => n.op_type);
    expect(fuseResiduals(graph)).toBe(0);
    expect(graph.nodes.map((n) => n.op_type)).toEqual(ops);
  });

  it('runs in the int8 pipeline after int8-conv: a quantized Conv (ConvInteger) is not fused, a float32 one is', async () => {
    // No leading float Conv (leadingFloat 0): every Conv after the first ReLU is quantized, nothing to fuse.
    const quantized = block();
    const r1 = await runPasses(quantized, passesFor('int8', { int8: { leadingFloat: 0, convSelection: { minElements: 1 } } }), { where: 'fuse', log: () => {} });
    expect(quantized.graph!.node.some((n) => n.op_type === 'FusedConv')).toBe(false);
    expect(JSON.stringify(r1)).toContain('fuse-residual');
    // Weights under the selection's size stay float32: the join is fused.
    const kept = block();
    await runPasses(kept, passesFor('int8', { int8: { convSelection: { minElements: 1e9 } } }), { where: 'fuse', log: () => {} });
    expect(kept.graph!.node.filter((n) => n.op_type === 'FusedConv')).toHaveLength(1);
  });
});
