import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClipApp } from '../../src/http/app.ts';
import { createClipTokenizer } from '../../src/core/tokenizer.ts';
import { EVAL_DIR, MODEL_DIR, type EvalSet } from '../helpers/clip.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { wasmBackend } from '../../src/runtime/fs/ort.ts';

interface TorchReference {
  synthetic_image_embeds: number[][];
  prompts: string[];
  input_ids: number[][];
  text_embeds: number[][];
  torch_top1: Record<string, string>;
  torch_accuracy: { ensemble: { seen: number; held_out: number }; single: { seen: number; held_out: number } };
}

const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
const reference = JSON.parse(readFileSync(path.join(EVAL_DIR, 'torch-reference.json'), 'utf8')) as TorchReference;
const json = (f: string) => JSON.parse(readFileSync(path.join(MODEL_DIR, f), 'utf8'));

/** The recipe's deterministic input: sin(0.37 (k+1) (i mod 977) + k) over the flat [3,224,224] index i of batch item k. */
const syntheticPixels = (n: number) => {
  const per = 3 * 224 * 224;
  const x = new Float32Array(n * per);
  for (let k = 0; k < n; k++) for (let i = 0; i < per; i++) x[k * per + i] = Math.sin(0.37 * (k + 1) * (i % 977) + k);
  return x;
};
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('bundled tiny-clip: ONNX (onnxruntime-web) equals PyTorch', () => {
  const backend = wasmBackend();
  beforeAll(() => backend.init());

  it('vision tower within 1e-4 of PyTorch', async () => {
    const session = await backend.createSession(new Uint8Array(readFileSync(path.join(MODEL_DIR, 'onnx/vision_model.onnx'))));
    const out = await session.run({ pixel_values: backend.tensor('float32', syntheticPixels(2), [2, 3, 224, 224]) });
    expect(maxAbsDiff(out.image_embeds!.data as Float32Array, reference.synthetic_image_embeds.flat())).toBeLessThan(1e-4);
  });

  it('text tower within 1e-4 of PyTorch, on ids from our tokenizer', async () => {
    const tok = createClipTokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
    const batch = tok.encodeBatch(reference.prompts);
    expect(Array.from(batch.inputIds, Number)).toEqual(reference.input_ids.flat());
    const session = await backend.createSession(new Uint8Array(readFileSync(path.join(MODEL_DIR, 'onnx/text_model.onnx'))));
    const n = reference.prompts.length;
    const out = await session.run({
      input_ids: backend.tensor('int64', batch.inputIds, [n, 77]),
      attention_mask: backend.tensor('int64', batch.attentionMask, [n, 77]),
    });
    expect(maxAbsDiff(out.text_embeds!.data as Float32Array, reference.text_embeds.flat())).toBeLessThan(1e-4);
  });
});

describe('bundled tiny-clip: zero-shot accuracy on the committed eval set, through the HTTP API', () => {
  const predictions = new Map<string, string>();
  beforeAll(async () => {
    // fp32, as the recipe's PyTorch reference (the quantized variants are gated against fp32 by quantize/).
    const app = createClipApp({ clip: await createNodeClipEdge({ backend: 'wasm', visionVariant: 'fp32', textVariant: 'fp32' }) });
    const query = new URLSearchParams([...evalSet.labels.map((l) => ['labels', l]), ...evalSet.templates.map((t) => ['templates', t]), ['topK', '1']]);
    for (const item of evalSet.images) {
      const type = item.file.endsWith('.png') ? 'image/png' : 'image/jpeg';
      const r = await app.request(`/v1/classify?${query}`, { method: 'POST', headers: { 'content-type': type }, body: readFileSync(path.join(EVAL_DIR, item.file)) });
      const body = (await r.json()) as { results: { label: string }[] };
      predictions.set(item.file, body.results[0]!.label);
    }
  }, 300_000);

  const accuracy = (split: 'seen' | 'held_out') => {
    const items = evalSet.images.filter((i) => i.split === split);
    return items.filter((i) => predictions.get(i.file) === i.label).length / items.length;
  };

  it('top-1 equals the recipe\'s PyTorch top-1 (PIL preprocessing) on ≥ 99 % of images', () => {
    const same = evalSet.images.filter((i) => predictions.get(i.file) === reference.torch_top1[i.file]).length;
    expect(same / evalSet.images.length).toBeGreaterThanOrEqual(0.99);
  });

  // Measured: seen 311/336 = 92.6 %, held-out 69/128 = 53.9 % (chance 1/64 = 1.6 %): the model issue's targets.
  it('reaches ≥ 90 % on seen pairs and ≥ 50 % on held-out colour×shape pairs (chance 1/64)', () => {
    expect(evalSet.labels).toHaveLength(64);
    expect(accuracy('seen')).toBeGreaterThanOrEqual(0.9);
    expect(accuracy('held_out')).toBeGreaterThanOrEqual(0.5);
  });

  it('matches the accuracy recorded in manifest.json', () => {
    const recorded = json('manifest.json').accuracy.top1.ensemble as { seen: number; held_out: number };
    expect(Math.abs(accuracy('seen') - recorded.seen)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(accuracy('held_out') - recorded.held_out)).toBeLessThanOrEqual(0.01);
  });
});
