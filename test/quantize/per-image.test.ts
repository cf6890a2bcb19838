// Activations quantized per image (Conv after a ReLU) and per token (MatMul) in CNN towers
// (quantize/quant/per-image.ts): an image's output must not depend on the other images in its
// batch, and each element must stay within the error bound of its own image's / token's step,
// computed here from the definitions (step = max / 255 per image; (max − min) / 255 per token).
// With DynamicQuantizeLinear (one step per batch) the small image of a batch whose images differ
// 100× in range breaks its own bound: the check discriminates.
import { describe, expect, it } from 'vitest';
import { intsAttr } from '../../quantize/onnx/attrs.ts';
import { buildModel, node } from '../../quantize/onnx/build.ts';
import { DT, encodeModel, type ModelProto } from '../../quantize/onnx/model.ts';
import { floatTensor } from '../../quantize/onnx/tensor.ts';
import { Graph } from '../../quantize/graph/graph.ts';
import { int8ConvPass } from '../../quantize/passes/int8-conv.ts';
import { int8MatMulPass } from '../../quantize/passes/int8-matmul.ts';
import type { Pass } from '../../quantize/passes/pass.ts';
import { isCnn } from '../../quantize/quant/per-image.ts';
import { passesFor, runPasses } from '../../quantize/pipeline.ts';
import { cosineOf, EMBED, maxAbsDiff, ort, rand, runOrt, toyVision } from './toy.ts';

const FLOAT_SLACK = 2 ** -20;

async function run(build: () => ModelProto, pass: Pass, x: Float32Array, dims: number[]) {
  const model = build();
  await runPasses(model, [pass], { where: 'per-image', log: () => {} });
  return { ops: model.graph!.node.map((n) => n.op_type), y: (await runOrt(encodeModel(model), { x: new ort.Tensor('float32', x, dims) })).y! };
}

describe('Conv after ReLU, one scale per image', () => {
  const [B, C, H, M, K] = [2, 4, 6, 5, 3];
  const w = rand(M * C * K * K, 0.3, 21);
  const build = () =>
    buildModel({
      inputs: [{ name: 'x', elemType: DT.FLOAT, shape: ['b', C, H, H] }],
      outputs: [{ name: 'y', elemType: DT.FLOAT, shape: ['b', M, H - K + 1, H - K + 1] }],
      initializers: [floatTensor('w', [M, C, K, K], w)],
      nodes: [
        node({ op: 'Relu', inputs: ['x'], outputs: ['r'] }),
        node({ op: 'Conv', inputs: ['r', 'w'], outputs: ['y'], attrs: [intsAttr('kernel_shape', [K, K])] }),
      ],
    });
  // Image 1's activations are 100× smaller than image 0's.
  const per = C * H * H;
  const x = rand(B * per, 1, 22).map((v, i) => (i >= per ? v / 100 : v));
  const relu = x.map((v) => Math.max(0, v));
  const G = H - K + 1;

  /** Each output's bound from its own image's step s = max / 255 and the channel's weight step. */
  function boundsOf(step: (b: number) => number) {
    const exact = new Float64Array(B * M * G * G);
    const bound = new Float64Array(B * M * G * G);
    for (let b = 0; b < B; b++) {
      const sx = step(b);
      for (let m = 0; m < M; m++) {
        const wm = w.subarray(m * C * K * K, (m + 1) * C * K * K);
        const sw = Math.max(...Array.from(wm, Math.abs)) / 127;
        for (let i = 0; i < G; i++) for (let j = 0; j < G; j++) {
          let y = 0;
          let e = 0;
          let mag = 0;
          for (let c = 0; c < C; c++) for (let u = 0; u < K; u++) for (let v = 0; v < K; v++) {
            const xv = relu[b * per + (c * H + i + u) * H + j + v]!;
            const wv = wm[(c * K + u) * K + v]!;
            y += xv * wv;
            e += xv * (sw / 2) + Math.abs(wv) * (sx / 2) + (sx * sw) / 4;
            mag += Math.abs(xv * wv);
          }
          const o = ((b * M + m) * G + i) * G + j;
          exact[o] = y;
          bound[o] = e + mag * FLOAT_SLACK;
        }
      }
    }
    return { exact, bound };
  }
  const imageStep = (b: number) => Math.max(...relu.subarray(b * per, (b + 1) * per)) / 255;

  it('the graph is a CNN (a Conv reads a ReLU output); per image, each output is within its own image’s bound and equal to the image run alone', async () => {
    const m = build();
    expect(isCnn(new Graph(m))).toBe(true);
    const { ops, y } = await run(build, int8ConvPass({ minElements: 1 }, 'auto', 0), x, [B, C, H, H]);
    expect(ops).toContain('QuantizeLinear');
    expect(ops).not.toContain('DynamicQuantizeLinear');
    const { exact, bound } = boundsOf(imageStep);
    for (let i = 0; i < y.length; i++) expect(Math.abs(y[i]! - exact[i]!), `element ${i}`).toBeLessThanOrEqual(bound[i]!);
    for (let b = 0; b < B; b++) {
      const alone = (await run(build, int8ConvPass({ minElements: 1 }, 'auto', 0), x.slice(b * per, (b + 1) * per), [1, C, H, H])).y;
      expect(Array.from(y.subarray(b * M * G * G, (b + 1) * M * G * G))).toEqual(Array.from(alone));
    }
  });

  it('per batch (DynamicQuantizeLinear), the small image takes the large one’s step and breaks its own bound', async () => {
    const { ops, y } = await run(build, int8ConvPass({ minElements: 1 }, 'per-batch', 0), x, [B, C, H, H]);
    expect(ops).toContain('DynamicQuantizeLinear');
    const { exact, bound } = boundsOf(imageStep);
    const small = Array.from({ length: M * G * G }, (_, i) => M * G * G + i);
    expect(small.some((i) => Math.abs(y[i]! - exact[i]!) > bound[i]!)).toBe(true);
  });

  it('the leading Convs of a CNN stay float32 up to the given share of its Conv weights', async () => {
    const m = build();
    await runPasses(m, [int8ConvPass({ minElements: 1 }, 'auto', 1)], { where: 'per-image', log: () => {} });
    expect(m.graph!.node.map((n) => n.op_type)).toEqual(['Relu', 'Conv']);
  });
});

describe('MatMul in a CNN tower (the attention pool), one range per token', () => {
  // [L, N, D] with the batch on axis 1, as open_clip's AttentionPool2d lays it out.
  const [L, N, D, O] = [3, 2, 16, 6];
  const w = rand(D * O, 0.3, 31);
  const build = () =>
    buildModel({
      inputs: [{ name: 'x', elemType: DT.FLOAT, shape: [L, 'b', D] }],
      outputs: [{ name: 'y', elemType: DT.FLOAT, shape: [L, 'b', O] }],
      initializers: [floatTensor('w', [D, O], w)],
      nodes: [node({ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] })],
    });
  // Mostly positive tokens with an offset (a ReLU output plus a position embedding), image 1 100× smaller.
  const x = rand(L * N * D, 1, 32).map((v, i) => (Math.abs(v) + 0.5) * (Math.floor(i / D) % N === 1 ? 0.01 : 1));

  it('each output is within its own token’s bound, and equal to the image run alone', async () => {
    const { ops, y } = await run(build, int8MatMulPass({ minElements: 1 }, 'per-image'), x, [L, N, D]);
    expect(ops).toContain('MatMulInteger');
    expect(ops).not.toContain('DynamicQuantizeLinear');
    for (let t = 0; t < L * N; t++) {
      const row = x.subarray(t * D, (t + 1) * D);
      const st = (Math.max(...row) - Math.min(...row)) / 255;
      for (let o = 0; o < O; o++) {
        const sw = Math.max(...Array.from({ length: D }, (_, k) => Math.abs(w[k * O + o]!))) / 127;
        let exact = 0;
        let bound = 0;
        for (let k = 0; k < D; k++) {
          exact += row[k]! * w[k * O + o]!;
          bound += Math.abs(row[k]!) * (sw / 2) + Math.abs(w[k * O + o]!) * (st / 2) + (st * sw) / 4 + Math.abs(row[k]! * w[k * O + o]!) * FLOAT_SLACK * 4;
        }
        expect(Math.abs(y[t * O + o]! - exact), `token ${t} output ${o}`).toBeLessThanOrEqual(bound);
      }
    }
    for (let n = 0; n < N; n++) {
      const alone = Float32Array.from({ length: L * D }, (_, i) => x[(Math.floor(i / D) * N + n) * D + (i % D)]!);
      const ya = (await run(build, int8MatMulPass({ minElements: 1 }, 'per-image'), alone, [L, 1, D])).y;
      for (let l = 0; l < L; l++) expect(Array.from(y.subarray((l * N + n) * O, (l * N + n + 1) * O))).toEqual(Array.from(ya.subarray(l * O, (l + 1) * O)));
    }
  });

  it('a graph without a Conv reading a ReLU output (a ViT) keeps DynamicQuantizeLinear under auto', async () => {
    expect(isCnn(new Graph(build()))).toBe(false);
    const { ops } = await run(build, int8MatMulPass({ minElements: 1 }), x, [L, N, D]);
    expect(ops).toContain('DynamicQuantizeLinear');
  });
});

describe('a ViT’s patch Conv on signed pixels, one range per image', () => {
  const [B, C, H, M, K] = [2, 3, 8, 4, 4];
  const w = rand(M * C * K * K, 0.3, 41);
  const build = (pads = [0, 0, 0, 0]) => () =>
    buildModel({
      inputs: [{ name: 'x', elemType: DT.FLOAT, shape: ['b', C, H, H] }],
      outputs: [{ name: 'y', elemType: DT.FLOAT, shape: ['b', M, 'h', 'w'] }],
      initializers: [floatTensor('w', [M, C, K, K], w)],
      nodes: [node({ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: [intsAttr('kernel_shape', [K, K]), intsAttr('strides', [K, K]), intsAttr('pads', pads)] })],
    });
  // Normalised pixels: signed and off-centre; image 1's range is 100× smaller than image 0's.
  const per = C * H * H;
  const x = rand(B * per, 1, 42).map((v, i) => (i >= per ? (v + 0.3) / 100 : v + 0.3));
  const G = H / K;

  it('each output is within its own image’s bound (step: its range with 0 in it / 255) and equal to the image run alone', async () => {
    const { ops, y } = await run(build(), int8ConvPass({ minElements: 1 }, 'per-image'), x, [B, C, H, H]);
    expect(ops).toContain('ConvInteger');
    expect(ops).not.toContain('DynamicQuantizeLinear');
    for (let b = 0; b < B; b++) {
      const img = x.subarray(b * per, (b + 1) * per);
      const sx = (Math.max(0, ...img) - Math.min(0, ...img)) / 255;
      for (let m = 0; m < M; m++) {
        const wm = w.subarray(m * C * K * K, (m + 1) * C * K * K);
        // uint8 weights with zero point 128: step max|w| / 127 per output channel.
        const sw = Math.max(...Array.from(wm, Math.abs)) / 127;
        for (let i = 0; i < G; i++) for (let j = 0; j < G; j++) {
          let [exact, bound] = [0, 0];
          for (let c = 0; c < C; c++) for (let u = 0; u < K; u++) for (let v = 0; v < K; v++) {
            const [xv, wv] = [img[(c * H + i * K + u) * H + j * K + v]!, wm[(c * K + u) * K + v]!];
            exact += xv * wv;
            // The offset lo · Σ w is added in float32: its rounding is in the slack.
            bound += Math.abs(xv) * (sw / 2) + Math.abs(wv) * (sx / 2) + (sx * sw) / 4 + (Math.abs(xv * wv) + Math.abs(wv) * 255 * sx) * FLOAT_SLACK * 4;
          }
          expect(Math.abs(y[((b * M + m) * G + i) * G + j]! - exact), `image ${b} channel ${m}`).toBeLessThanOrEqual(bound);
        }
      }
      const alone = (await run(build(), int8ConvPass({ minElements: 1 }, 'per-image'), img.slice(), [1, C, H, H])).y;
      expect(Array.from(y.subarray(b * M * G * G, (b + 1) * M * G * G))).toEqual(Array.from(alone));
    }
  });

  it('a padded Conv on signed input stays per batch (lo · Σ w would be wrong at the borders)', async () => {
    const { ops } = await run(build([1, 1, 1, 1]), int8ConvPass({ minElements: 1 }, 'per-image'), x, [B, C, H, H]);
    expect(ops).toContain('DynamicQuantizeLinear');
  });
});

describe('a ViT-shaped int8 tower: with activations per image, an image’s embedding does not depend on its batch-mates', () => {
  // toyVision: patch Conv → mean → MatMul → LayerNorm → MatMul, the passes of `clip-edge quantize`'s int8.
  const per = 3 * 224 * 224;
  // Four images whose pixel ranges differ (a flat grey one, a full-range one, two in between).
  const images = [0.05, 1, 0.3, 2.1].map((s, k) => rand(per, s, 50 + k).map((v) => v - 0.4 * s));
  const batch = new Float32Array(images.length * per);
  images.forEach((im, k) => batch.set(im, k * per));
  const embed = async (model: Uint8Array, pixels: Float32Array, n: number) =>
    (await runOrt(model, { pixel_values: new ort.Tensor('float32', pixels, [n, 3, 224, 224]) })).image_embeds!;
  const int8 = async (activations?: 'per-image') => {
    const m = toyVision();
    await runPasses(m, passesFor('int8', { int8: { ...(activations ? { activations } : {}), matmul: { minElements: 1 }, convSelection: { minElements: 1 } } }), { where: 'toy', tower: 'vision', log: () => {} });
    return { ops: m.graph!.node.map((n) => n.op_type), bytes: encodeModel(m) };
  };

  it('per image (MatMuls per token, the patch Conv per image): each image alone gives its embedding in the batch exactly, within the gate of fp32', async () => {
    const { ops, bytes } = await int8('per-image');
    expect(ops).toContain('MatMulInteger');
    expect(ops).toContain('ConvInteger');
    expect(ops).not.toContain('DynamicQuantizeLinear');
    const together = await embed(bytes, batch, images.length);
    const fp32 = await embed(encodeModel(toyVision()), batch, images.length);
    for (let k = 0; k < images.length; k++) {
      const alone = await embed(bytes, images[k]!, 1);
      expect(Array.from(together.subarray(k * EMBED, (k + 1) * EMBED)), `image ${k}`).toEqual(Array.from(alone));
      expect(cosineOf(alone, fp32.subarray(k * EMBED, (k + 1) * EMBED))).toBeGreaterThan(0.99);
    }
  });

  it('per batch (DynamicQuantizeLinear, a ViT’s default under auto): the flat image’s embedding moves with its batch-mates', async () => {
    const { ops, bytes } = await int8();
    expect(ops).toContain('DynamicQuantizeLinear');
    const together = await embed(bytes, batch, images.length);
    const alone = await embed(bytes, images[0]!, 1);
    expect(maxAbsDiff(together.subarray(0, EMBED), alone)).toBeGreaterThan(1e-3);
  });
});
