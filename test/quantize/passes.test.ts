import { describe, expect, it } from 'vitest';
import { floatAttr, getAttr, intAttr, intsAttr, tensorAttr } from '../../quantize/onnx/attrs.ts';
import { buildModel, node } from '../../quantize/onnx/build.ts';
import { DT, encodeModel, type ModelProto } from '../../quantize/onnx/model.ts';
import { floatTensor, floatValues, int64Tensor } from '../../quantize/onnx/tensor.ts';
import { Graph } from '../../quantize/graph/graph.ts';
import { inferTypes } from '../../quantize/graph/dtypes.ts';
import { fp16Pass } from '../../quantize/passes/fp16.ts';
import { int8ConvPass } from '../../quantize/passes/int8-conv.ts';
import { int8GatherPass } from '../../quantize/passes/int8-gather.ts';
import { int8MatMulPass } from '../../quantize/passes/int8-matmul.ts';
import type { Pass } from '../../quantize/passes/pass.ts';
import { q4MatMulPass } from '../../quantize/passes/q4-matmul.ts';
import { runPasses } from '../../quantize/pipeline.ts';
import { cosineOf, maxAbsDiff, ort, rand, runOrt } from './toy.ts';

const f32 = (name: string, shape: (number | string)[]) => ({ name, elemType: DT.FLOAT, shape });
const ops = (m: ModelProto) => m.graph!.node.map((n) => n.op_type);
const typesOf = (m: ModelProto) => inferTypes(new Graph(m), 'test');
/** The element type each node of an op type reads at its first input. */
const inputTypesOf = (m: ModelProto, op: string) => {
  const t = typesOf(m);
  return m.graph!.node.filter((n) => n.op_type === op).map((n) => t.get(n.input[0]!));
};

interface Case {
  name: string;
  build: () => ModelProto;
  passes: Pass[];
  feeds: () => Record<string, ort.Tensor>;
  /** Minimum cosine of every output against float32, and maximum absolute difference. */
  cosine: number;
  maxAbs?: number;
  check?: (before: ModelProto, after: ModelProto) => void;
}

const x3 = (b: number, m: number, k: number, seed = 11) => new ort.Tensor('float32', rand(b * m * k, 1, seed), [b, m, k]);

/** A transformer-ish block: MatMul → LayerNormalization → MatMul → Softmax, a Cast to float and a huge constant. */
const mlp = () =>
  buildModel({
    inputs: [f32('x', ['b', 5, 48])],
    outputs: [f32('y', ['b', 5, 40]), f32('scaled', ['b', 5, 40])],
    initializers: [
      floatTensor('w1', [48, 64], rand(48 * 64, 0.2, 1)),
      floatTensor('g', [64], rand(64, 1, 2).map((v) => 1 + 0.1 * v)),
      floatTensor('b', [64], rand(64, 0.1, 3)),
      floatTensor('w2', [64, 40], rand(64 * 40, 0.2, 4)),
      int64Tensor('two', [], [2]),
    ],
    nodes: [
      node({ op: 'MatMul', inputs: ['x', 'w1'], outputs: ['h'] }),
      node({ op: 'LayerNormalization', inputs: ['h', 'g', 'b'], outputs: ['n'], attrs: [intAttr('axis', -1), floatAttr('epsilon', 1e-5)] }),
      node({ op: 'MatMul', inputs: ['n', 'w2'], outputs: ['logits'] }),
      node({ op: 'Softmax', inputs: ['logits'], outputs: ['y'], attrs: [intAttr('axis', -1)] }),
      node({ op: 'Cast', inputs: ['two'], outputs: ['two_f'], attrs: [intAttr('to', DT.FLOAT)] }),
      node({ op: 'Constant', inputs: [], outputs: ['huge'], attrs: [tensorAttr('value', floatTensor('', [], Float32Array.of(1e6)))] }),
      node({ op: 'Div', inputs: ['two_f', 'huge'], outputs: ['tiny'] }),
      node({ op: 'Mul', inputs: ['logits', 'tiny'], outputs: ['scaled'] }),
    ],
  });

/** LayerNorm as opset-13 exports spell it, and a final L2 normalisation. */
const decomposed = () =>
  buildModel({
    opset: 13,
    inputs: [f32('x', ['b', 4, 32])],
    outputs: [f32('y', ['b', 4, 16])],
    initializers: [floatTensor('w', [32, 16], rand(32 * 16, 0.3, 5)), floatTensor('two', [], Float32Array.of(2)), floatTensor('eps', [], Float32Array.of(1e-5))],
    nodes: [
      node({ op: 'ReduceMean', inputs: ['x'], outputs: ['mean'], attrs: [intsAttr('axes', [-1])] }),
      node({ op: 'Sub', inputs: ['x', 'mean'], outputs: ['d'] }),
      node({ op: 'Pow', inputs: ['d', 'two'], outputs: ['sq'] }),
      node({ op: 'ReduceMean', inputs: ['sq'], outputs: ['var'], attrs: [intsAttr('axes', [-1])] }),
      node({ op: 'Add', inputs: ['var', 'eps'], outputs: ['ve'] }),
      node({ op: 'Sqrt', inputs: ['ve'], outputs: ['std'] }),
      node({ op: 'Div', inputs: ['d', 'std'], outputs: ['n'] }),
      node({ op: 'MatMul', inputs: ['n', 'w'], outputs: ['e'] }),
      node({ op: 'ReduceL2', inputs: ['e'], outputs: ['norm'], attrs: [intsAttr('axes', [-1])] }),
      node({ op: 'Div', inputs: ['e', 'norm'], outputs: ['y'] }),
    ],
  });

const twoConsumers = () =>
  buildModel({
    inputs: [f32('x', ['b', 7, 64])],
    outputs: [f32('q', ['b', 7, 32]), f32('k', ['b', 7, 32]), f32('g', ['b', 32])],
    initializers: [
      floatTensor('wq', [64, 32], rand(64 * 32, 0.2, 6)),
      floatTensor('wk', [64, 32], rand(64 * 32, 0.2, 7)),
      floatTensor('wg', [32, 64], rand(32 * 64, 0.2, 8)),
      floatTensor('bg', [32], rand(32, 0.2, 9)),
      int64Tensor('first', [], [0]),
    ],
    nodes: [
      node({ op: 'MatMul', inputs: ['x', 'wq'], outputs: ['q'] }),
      node({ op: 'MatMul', inputs: ['x', 'wk'], outputs: ['k'] }),
      node({ op: 'Gather', inputs: ['x', 'first'], outputs: ['x0'], attrs: [intAttr('axis', 1)] }),
      node({ op: 'Gemm', inputs: ['x0', 'wg', 'bg'], outputs: ['g'], attrs: [intAttr('transB', 1)] }),
    ],
  });

const patchConv = () =>
  buildModel({
    inputs: [f32('pixel_values', ['b', 3, 64, 64])],
    outputs: [f32('y', ['b', 24, 4, 4])],
    initializers: [floatTensor('w', [24, 3, 16, 16], rand(24 * 3 * 16 * 16, 0.05, 10)), floatTensor('bias', [24], rand(24, 0.5, 11))],
    nodes: [node({ op: 'Conv', inputs: ['pixel_values', 'w', 'bias'], outputs: ['y'], attrs: [intsAttr('kernel_shape', [16, 16]), intsAttr('strides', [16, 16])] })],
  });

const embedding = () =>
  buildModel({
    inputs: [{ name: 'ids', elemType: DT.INT64, shape: ['b', 6] }],
    outputs: [f32('y', ['b', 6, 24])],
    initializers: [floatTensor('table', [4000, 24], rand(4000 * 24, 0.5, 12)), floatTensor('pos', [6, 24], rand(6 * 24, 0.5, 13))],
    nodes: [node({ op: 'Gather', inputs: ['table', 'ids'], outputs: ['tok'] }), node({ op: 'Add', inputs: ['tok', 'pos'], outputs: ['y'] })],
  });

const oddK = () =>
  buildModel({
    inputs: [f32('x', ['b', 3, 48])],
    outputs: [f32('y', ['b', 3, 40])],
    initializers: [floatTensor('w', [48, 40], rand(48 * 40, 0.2, 14))],
    nodes: [node({ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] })],
  });

const ids = () => new ort.Tensor('int64', BigInt64Array.from({ length: 12 }, (_, i) => BigInt((i * 997) % 4000)), [2, 6]);

const CASES: Case[] = [
  {
    name: 'fp16: weights and constants to float16 (clamped), LayerNormalization and Softmax kept float32, float32 I/O through Casts',
    build: mlp,
    passes: [fp16Pass()],
    feeds: () => ({ x: x3(2, 5, 48) }),
    cosine: 0.9999,
    check: (_before, after) => {
      const inits = new Map(after.graph!.initializer.map((t) => [t.name, t]));
      expect(inits.get('w1')!.data_type).toBe(DT.FLOAT16);
      expect(inits.get('g')!.data_type).toBe(DT.FLOAT); // read only by the kept LayerNormalization
      expect(inputTypesOf(after, 'LayerNormalization')).toEqual([DT.FLOAT]);
      expect(inputTypesOf(after, 'Softmax')).toEqual([DT.FLOAT]);
      expect(inputTypesOf(after, 'MatMul')).toEqual([DT.FLOAT16, DT.FLOAT16]);
      const huge = after.graph!.node.find((n) => n.output[0] === 'huge')!;
      expect(floatValues(getAttr(huge, 'value')!.t!)[0]).toBe(65504);
      expect(after.graph!.node.find((n) => n.output[0] === 'two_f')!.attribute[0]!.i).toBe(DT.FLOAT16);
      expect(after.graph!.output.map((o) => o.type!.tensor_type!.elem_type)).toEqual([DT.FLOAT, DT.FLOAT]);
    },
  },
  {
    name: 'fp16: a decomposed LayerNorm (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div) and the final L2 norm stay float32',
    build: decomposed,
    passes: [fp16Pass()],
    feeds: () => ({ x: x3(2, 4, 32, 12) }),
    cosine: 0.9999,
    check: (_b, after) => {
      for (const op of ['ReduceMean', 'Sub', 'Pow', 'Sqrt', 'Div', 'ReduceL2']) expect(inputTypesOf(after, op).every((t) => t === DT.FLOAT), op).toBe(true);
      expect(inputTypesOf(after, 'MatMul')).toEqual([DT.FLOAT16]);
    },
  },
  {
    name: 'int8-matmul: MatMul and Gemm(transB) → MatMulInteger, one DynamicQuantizeLinear per activation',
    build: twoConsumers,
    passes: [int8MatMulPass()],
    feeds: () => ({ x: x3(3, 7, 64) }),
    cosine: 0.999,
    check: (_b, after) => {
      const o = ops(after);
      expect(o.filter((x) => x === 'MatMulInteger')).toHaveLength(3);
      expect(o.filter((x) => x === 'DynamicQuantizeLinear')).toHaveLength(2); // x (shared by q and k) and x0
      expect(o).not.toContain('MatMul');
      expect(o).not.toContain('Gemm');
      expect(after.graph!.initializer.filter((t) => t.data_type === DT.INT8).map((t) => t.dims)).toEqual([[64, 32], [64, 32], [64, 32]]);
    },
  },
  {
    name: 'int8-conv: the patch Conv → ConvInteger with uint8 weights (zero point 128) and its bias',
    build: patchConv,
    passes: [int8ConvPass()],
    feeds: () => ({ pixel_values: new ort.Tensor('float32', rand(2 * 3 * 64 * 64, 2, 15), [2, 3, 64, 64]) }),
    cosine: 0.999,
    check: (_b, after) => {
      expect(ops(after)).toEqual(['DynamicQuantizeLinear', 'ConvInteger', 'Cast', 'Mul', 'Mul', 'Add']);
      expect(after.graph!.initializer.find((t) => t.dims.length === 4)!.data_type).toBe(DT.UINT8);
    },
  },
  {
    name: 'int8-gather: the token embedding → int8 table, rows dequantized by their own scale; small tables untouched',
    build: embedding,
    passes: [int8GatherPass()],
    feeds: () => ({ ids: ids() }),
    cosine: 0.9999,
    maxAbs: 0.5 / 127,
    check: (_b, after) => {
      expect(after.graph!.initializer.map((t) => [t.name, t.data_type])).toEqual([
        ['pos', DT.FLOAT],
        ['table/int8', DT.INT8],
        ['table/scale', DT.FLOAT],
      ]);
    },
  },
  {
    name: 'q4-matmul: MatMul → MatMulNBits (4-bit, block 32), K not a multiple of the block',
    build: oddK,
    passes: [q4MatMulPass()],
    feeds: () => ({ x: x3(2, 3, 48) }),
    cosine: 0.99,
    check: (_b, after) => {
      const n = after.graph!.node[0]!;
      expect([n.domain, n.op_type]).toEqual(['com.microsoft', 'MatMulNBits']);
      expect(after.graph!.initializer[0]!.dims).toEqual([40, 2, 16]);
      expect(after.opset_import).toContainEqual({ domain: 'com.microsoft', version: 1 });
    },
  },
  {
    name: 'q4-matmul with bits 8: MatMul → MatMulNBits (8-bit, block 32), one byte a weight',
    build: oddK,
    passes: [q4MatMulPass({ bits: 8 })],
    feeds: () => ({ x: x3(2, 3, 48) }),
    // 255 steps a block instead of 15: ~17× finer than 4-bit.
    cosine: 0.9999,
    check: (_b, after) => {
      const n = after.graph!.node[0]!;
      expect([n.domain, n.op_type]).toEqual(['com.microsoft', 'MatMulNBits']);
      expect(getAttr(n, 'bits')?.i).toBe(8);
      expect(after.graph!.initializer[0]!.dims).toEqual([40, 2, 32]);
    },
  },
];

describe('quantize passes on hand-built graphs', () => {
  it.each(CASES)('$name', async (c) => {
    const before = c.build();
    const fp32 = await runOrt(before, c.feeds());
    const after = c.build();
    await runPasses(after, c.passes, { where: c.name, log: () => {} }); // checks the graph before and after each pass
    const bytes = encodeModel(after);
    const got = await runOrt(bytes, c.feeds()); // loads and runs in onnxruntime-web (WASM)
    for (const [name, ref] of Object.entries(fp32)) {
      expect(got[name], name).toBeInstanceOf(Float32Array);
      expect(got[name]!.length).toBe(ref.length);
      expect(cosineOf(ref, got[name]!), name).toBeGreaterThanOrEqual(c.cosine);
      if (c.maxAbs !== undefined) expect(maxAbsDiff(ref, got[name]!), name).toBeLessThanOrEqual(c.maxAbs);
    }
    c.check?.(before, after);
  });

  it('the same graph quantizes to the same bytes every time', async () => {
    for (const c of CASES) {
      const a = c.build();
      const b = c.build();
      await runPasses(a, c.passes, { where: c.name, log: () => {} });
      await runPasses(b, c.passes, { where: c.name, log: () => {} });
      expect(Buffer.from(encodeModel(a)).equals(Buffer.from(encodeModel(b))), c.name).toBe(true);
    }
  });
});
