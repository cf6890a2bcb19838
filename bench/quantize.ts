// Which int8/4-bit form runs fastest in onnxruntime-web WASM (1 thread), at ViT-B/32's layer sizes.
//   node --import tsx bench/quantize.ts [--runs 15]
// Layers: 4 × (MatMul 768→3072, MatMul 3072→768) on [1, M, 768], M = 50 (one image's tokens) and
// 800 (16 images); the patch-embedding Conv 3→768, kernel 32, stride 32, on [B, 3, 224, 224].
// Forms: float32; what the int8 passes write (DynamicQuantizeLinear + MatMulInteger / ConvInteger);
// weight-only int8 (DequantizeLinear → MatMul); what the q4 pass writes (MatMulNBits, 4-bit).
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import { intAttr, intsAttr } from '../quantize/onnx/attrs.ts';
import { buildModel, node } from '../quantize/onnx/build.ts';
import { DT, encodeModel, tensorProto, type ModelProto, type NodeProto, type TensorProto } from '../quantize/onnx/model.ts';
import { bytesOf, floatTensor } from '../quantize/onnx/tensor.ts';
import { int8ConvPass } from '../quantize/passes/int8-conv.ts';
import { int8MatMulPass } from '../quantize/passes/int8-matmul.ts';
import type { Pass } from '../quantize/passes/pass.ts';
import { q4MatMulPass } from '../quantize/passes/q4-matmul.ts';
import { runPasses } from '../quantize/pipeline.ts';
import { int8PerColumn } from '../quantize/quant/math.ts';
import { median } from '../quantize/verify/runner.ts';
import { cosine } from '../src/core/zeroshot.ts';

const { values: args } = parseArgs({ options: { runs: { type: 'string' } } });
const RUNS = Number(args.runs ?? 15);
ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

function rand(n: number, scale: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    a[i] = (x / 2 ** 32 - 0.5) * 2 * scale;
  }
  return a;
}

const D = 768;
const H = 3072;
const LAYERS = 4;

function mlpStack(weightOnly = false): ModelProto {
  const inits: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  let x = 'x';
  for (let l = 0; l < LAYERS * 2; l++) {
    const [K, N] = l % 2 ? [H, D] : [D, H];
    const w = rand(K * N, 0.02, l + 1);
    const y = `h${l}`;
    if (weightOnly) {
      const { q, scale } = int8PerColumn(w, K, N);
      inits.push(tensorProto(`w${l}`, DT.INT8, [K, N], bytesOf(q)), floatTensor(`s${l}`, [N], scale), tensorProto(`z${l}`, DT.INT8, [N], new Uint8Array(N)));
      nodes.push(node({ op: 'DequantizeLinear', inputs: [`w${l}`, `s${l}`, `z${l}`], outputs: [`wd${l}`], attrs: [intAttr('axis', 1)] }));
      nodes.push(node({ op: 'MatMul', inputs: [x, `wd${l}`], outputs: [y] }));
    } else {
      inits.push(floatTensor(`w${l}`, [K, N], w));
      nodes.push(node({ op: 'MatMul', inputs: [x, `w${l}`], outputs: [y] }));
    }
    x = y;
  }
  nodes.push(node({ op: 'Identity', inputs: [x], outputs: ['y'] }));
  return buildModel({
    inputs: [{ name: 'x', elemType: DT.FLOAT, shape: ['b', 'm', D] }],
    outputs: [{ name: 'y', elemType: DT.FLOAT, shape: ['b', 'm', D] }],
    nodes,
    initializers: inits,
  });
}

const patchConv = (): ModelProto =>
  buildModel({
    inputs: [{ name: 'x', elemType: DT.FLOAT, shape: ['b', 3, 224, 224] }],
    outputs: [{ name: 'y', elemType: DT.FLOAT, shape: ['b', D, 7, 7] }],
    initializers: [floatTensor('w', [D, 3, 32, 32], rand(D * 3 * 32 * 32, 0.02, 99))],
    nodes: [node({ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: [intsAttr('kernel_shape', [32, 32]), intsAttr('strides', [32, 32])] })],
  });

const withPasses = async (m: ModelProto, passes: Pass[]) => (await runPasses(m, passes, { where: 'bench', log: () => {} })).model;

async function time(model: ModelProto, feeds: Record<string, ort.Tensor>[]): Promise<{ ms: number[]; out: Float32Array[] }> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  const ms: number[] = [];
  const out: Float32Array[] = [];
  for (const f of feeds) {
    out.push((await session.run(f)).y!.data as Float32Array);
    await session.run(f); // a second warm-up: the first runs of a session are slower
    const t: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now();
      await session.run(f);
      t.push(performance.now() - t0);
    }
    ms.push(median(t));
  }
  await session.release();
  return { ms, out };
}


const mlpFeeds = [50, 800].map((m) => ({ x: new ort.Tensor('float32', rand(m * D, 1, 7), [1, m, D]) }));
const convFeeds = [1, 8].map((b) => ({ x: new ort.Tensor('float32', rand(b * 3 * 224 * 224, 2, 8), [b, 3, 224, 224]) }));

const rows: string[] = ['| layers | form | batch A | ms | × fp32 | batch B | ms | × fp32 | cosine vs fp32 |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
const mlpForms: [string, () => ModelProto | Promise<ModelProto>][] = [
  ['float32 MatMul', () => mlpStack()],
  ['int8: DynamicQuantizeLinear + MatMulInteger (int8-matmul pass)', () => withPasses(mlpStack(), [int8MatMulPass()])],
  ['int8 weight-only: DequantizeLinear → MatMul', () => mlpStack(true)],
  ['4-bit: MatMulNBits block 32 (q4-matmul pass)', () => withPasses(mlpStack(), [q4MatMulPass()])],
];
const convForms: [string, () => ModelProto | Promise<ModelProto>][] = [
  ['float32 Conv', patchConv],
  ['int8: DynamicQuantizeLinear + ConvInteger, uint8 weights (int8-conv pass)', () => withPasses(patchConv(), [int8ConvPass()])],
];
for (const [what, forms, feeds, labels] of [
  [`${LAYERS}× MLP 768↔3072`, mlpForms, mlpFeeds, ['M=50', 'M=800']],
  ['patch Conv 3→768 k32 s32', convForms, convFeeds, ['B=1', 'B=8']],
] as const) {
  let ref: { ms: number[]; out: Float32Array[] } | undefined;
  for (const [name, make] of forms) {
    const r = await time(await make(), feeds as Record<string, ort.Tensor>[]);
    ref ??= r;
    rows.push(
      `| ${what} | ${name} | ${labels[0]} | ${r.ms[0]!.toFixed(1)} | ${(r.ms[0]! / ref.ms[0]!).toFixed(2)} | ${labels[1]} | ${r.ms[1]!.toFixed(1)} | ${(r.ms[1]! / ref.ms[1]!).toFixed(2)} | ${cosine(ref.out[0]!, r.out[0]!).toFixed(5)} |`,
    );
    process.stderr.write(`${rows.at(-1)}\n`);
  }
}
process.stdout.write(`onnxruntime-web ${ort.env.versions.web} WASM, 1 thread, median of ${RUNS} runs\n\n${rows.join('\n')}\n`);
