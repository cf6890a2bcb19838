// Per-op error bounds of the int8 passes against exact (float64) fp32 arithmetic, computed here
// from the ONNX definitions: DynamicQuantizeLinear (uint8, per tensor) for activations, the
// documented weight scales (amax/127 per output column / channel / embedding row) for weights.
// Each output element's error must stay within the bound its own inputs give; a wrong scale,
// zero point, rounding or rescale in a pass breaks it. The weights' columns (channels, rows) alternate
// between two magnitudes 100× apart, as a trained layer's do: one scale for the whole tensor then
// rounds the small columns to a step 100× too coarse, which the per-column bound refuses (with
// columns of one magnitude, per-tensor scaling stays within it).
import { describe, expect, it } from 'vitest';
import { intsAttr } from '../../quantize/onnx/attrs.ts';
import { buildModel, node } from '../../quantize/onnx/build.ts';
import { DT, encodeModel, type ModelProto } from '../../quantize/onnx/model.ts';
import { floatTensor } from '../../quantize/onnx/tensor.ts';
import { int8ConvPass } from '../../quantize/passes/int8-conv.ts';
import { int8GatherPass } from '../../quantize/passes/int8-gather.ts';
import { int8MatMulPass } from '../../quantize/passes/int8-matmul.ts';
import type { Pass } from '../../quantize/passes/pass.ts';
import { runPasses } from '../../quantize/pipeline.ts';
import { ort, rand, runOrt } from './toy.ts';

/** ONNX DynamicQuantizeLinear's step for a tensor: (max(0, max x) − min(0, min x)) / 255. */
const activationStep = (x: Float32Array) => (Math.max(0, ...x) - Math.min(0, ...x)) / 255;
/** Float32 accumulation and the two float32 rescale multiplies: a few ulps of Σ|x||w|. */
const FLOAT_SLACK = 2 ** -20;

/** `w` with its groups (columns, channels or rows: `groupOf` says which a value is in) scaled by 1 and 1/100 alternately. */
function spread(w: Float32Array, groupOf: (i: number) => number): Float32Array {
  return w.map((v, i) => (groupOf(i) % 2 ? v / 100 : v));
}

async function quantized(build: () => ModelProto, pass: Pass, feeds: Record<string, ort.Tensor>) {
  const model = build();
  await runPasses(model, [pass], { where: 'error-bounds', log: () => {} });
  return (await runOrt(encodeModel(model), feeds)).y!;
}

/** Checks |got − exact| ≤ bound element-wise; returns the largest error relative to its bound. */
function expectWithin(got: Float32Array, exact: Float64Array, bound: Float64Array): number {
  expect(got.length).toBe(exact.length);
  let worst = 0;
  let anyError = false;
  for (let i = 0; i < exact.length; i++) {
    const err = Math.abs(got[i]! - exact[i]!);
    if (err > 0) anyError = true;
    expect(err, `element ${i}: |${got[i]} − ${exact[i]}| > ${bound[i]}`).toBeLessThanOrEqual(bound[i]!);
    worst = Math.max(worst, err / bound[i]!);
  }
  expect(anyError, 'the output is exactly fp32: nothing was quantized').toBe(true);
  return worst;
}

describe('int8 passes: every output within its quantization error bound', () => {
  it('MatMul → MatMulInteger: |Δy[n]| ≤ Σₖ |x|·s_w[n]/2 + |w|·s_x + s_x·s_w[n]/2', async () => {
    const [B, M, K, N] = [2, 5, 48, 40];
    const w = spread(rand(K * N, 0.2, 14), (i) => i % N); // column n: w[k·N + n]
    const x = rand(B * M * K, 1, 11);
    const build = () =>
      buildModel({
        inputs: [{ name: 'x', elemType: DT.FLOAT, shape: ['b', M, K] }],
        outputs: [{ name: 'y', elemType: DT.FLOAT, shape: ['b', M, N] }],
        initializers: [floatTensor('w', [K, N], w)],
        nodes: [node({ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] })],
      });
    const got = await quantized(build, int8MatMulPass(), { x: new ort.Tensor('float32', x, [B, M, K]) });
    const sx = activationStep(x);
    const sw = Array.from({ length: N }, (_, n) => Math.max(...Array.from({ length: K }, (_, k) => Math.abs(w[k * N + n]!))) / 127);
    const exact = new Float64Array(B * M * N);
    const bound = new Float64Array(B * M * N);
    for (let r = 0; r < B * M; r++) for (let n = 0; n < N; n++) {
      let y = 0;
      let b = 0;
      let mag = 0;
      for (let k = 0; k < K; k++) {
        const xv = x[r * K + k]!;
        const wv = w[k * N + n]!;
        y += xv * wv;
        b += Math.abs(xv) * (sw[n]! / 2) + Math.abs(wv) * sx + sx * (sw[n]! / 2);
        mag += Math.abs(xv * wv);
      }
      exact[r * N + n] = y;
      bound[r * N + n] = b + mag * FLOAT_SLACK;
    }
    expect(expectWithin(got, exact, bound)).toBeGreaterThan(0.01); // the bound is not vacuous
  });

  it('Conv (patch embedding) → ConvInteger, uint8 weights with zero point 128: the same bound per output channel, plus the bias', async () => {
    const [B, C, H, M, P] = [2, 3, 64, 24, 16];
    const w = spread(rand(M * C * P * P, 0.05, 10), (i) => Math.floor(i / (C * P * P))); // output channel m
    const bias = rand(M, 0.5, 11);
    const x = rand(B * C * H * H, 2, 15);
    const build = () =>
      buildModel({
        inputs: [{ name: 'x', elemType: DT.FLOAT, shape: ['b', C, H, H] }],
        outputs: [{ name: 'y', elemType: DT.FLOAT, shape: ['b', M, H / P, H / P] }],
        initializers: [floatTensor('w', [M, C, P, P], w), floatTensor('bias', [M], bias)],
        nodes: [node({ op: 'Conv', inputs: ['x', 'w', 'bias'], outputs: ['y'], attrs: [intsAttr('kernel_shape', [P, P]), intsAttr('strides', [P, P])] })],
      });
    const got = await quantized(build, int8ConvPass(), { x: new ort.Tensor('float32', x, [B, C, H, H]) });
    const sx = activationStep(x);
    const per = C * P * P;
    const sw = Array.from({ length: M }, (_, m) => Math.max(...Array.from(w.subarray(m * per, (m + 1) * per), Math.abs)) / 127);
    const G = H / P;
    const exact = new Float64Array(B * M * G * G);
    const bound = new Float64Array(B * M * G * G);
    for (let b = 0; b < B; b++) for (let m = 0; m < M; m++) for (let i = 0; i < G; i++) for (let j = 0; j < G; j++) {
      let y = bias[m]!;
      let e = 0;
      let mag = Math.abs(bias[m]!);
      for (let c = 0; c < C; c++) for (let u = 0; u < P; u++) for (let v = 0; v < P; v++) {
        const xv = x[((b * C + c) * H + i * P + u) * H + j * P + v]!;
        const wv = w[((m * C + c) * P + u) * P + v]!;
        y += xv * wv;
        e += Math.abs(xv) * (sw[m]! / 2) + Math.abs(wv) * sx + sx * (sw[m]! / 2);
        mag += Math.abs(xv * wv);
      }
      const o = ((b * M + m) * G + i) * G + j;
      exact[o] = y;
      bound[o] = e + mag * FLOAT_SLACK;
    }
    expect(expectWithin(got, exact, bound)).toBeGreaterThan(0.01);
  });

  it('Gather (token embedding) → int8 table: each looked-up value within half its row\'s step (amax/127/2)', async () => {
    const [V, D, T] = [4000, 24, 6];
    const table = spread(rand(V * D, 0.5, 12), (i) => Math.floor(i / D)); // token row
    const ids = BigInt64Array.from({ length: 2 * T }, (_, i) => BigInt((i * 997 + 3) % V));
    const build = () =>
      buildModel({
        inputs: [{ name: 'ids', elemType: DT.INT64, shape: ['b', T] }],
        outputs: [{ name: 'y', elemType: DT.FLOAT, shape: ['b', T, D] }],
        initializers: [floatTensor('table', [V, D], table)],
        nodes: [node({ op: 'Gather', inputs: ['table', 'ids'], outputs: ['y'] })],
      });
    const got = await quantized(build, int8GatherPass(), { ids: new ort.Tensor('int64', ids, [2, T]) });
    const exact = new Float64Array(2 * T * D);
    const bound = new Float64Array(2 * T * D);
    ids.forEach((id, t) => {
      const row = table.subarray(Number(id) * D, (Number(id) + 1) * D);
      const step = Math.max(...Array.from(row, Math.abs)) / 127;
      row.forEach((v, d) => {
        exact[t * D + d] = v;
        bound[t * D + d] = step / 2 + Math.abs(v) * FLOAT_SLACK;
      });
    });
    expect(expectWithin(got, exact, bound)).toBeGreaterThan(0.5);
  });
});
