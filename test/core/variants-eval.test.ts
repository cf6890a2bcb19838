// The committed quantized vision variants through the whole eval set (464 images, 64 labels):
// top-1 agreement with fp32 and accuracy, per variant, on the WASM backend they ship for.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClipEdge } from '../../src/core/clip.ts';
import { createImageDecoder } from '../../src/core/image/decoder.ts';
import { clipNormalize } from '../../src/core/image/preprocess.ts';
import { logits, normalizeRows, topK } from '../../src/core/zeroshot.ts';
import { wasmBackend } from '../../src/runtime/fs/ort.ts';
import { nodeImageCodecs } from '../../src/runtime/fs/codecs.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { EVAL_DIR, MODEL_DIR, type EvalSet } from '../helpers/clip.ts';

const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
const VARIANTS = ['fp32', 'fp16', 'int8', 'q4'] as const;
type Variant = (typeof VARIANTS)[number];
const BATCH = 32;

const top1 = new Map<Variant, number[]>();

beforeAll(async () => {
  const clip: ClipEdge = await createNodeClipEdge({ backend: 'wasm', visionVariant: 'fp32', textVariant: 'fp32' });
  const info = clip.info;
  const dim = info.embedDim;
  // The model's own label set, embedded by the fp32 text tower (its shipped cache is checked against that elsewhere).
  const { matrix } = await clip.classEmbeddings(await clip.labelSet('tiny-clip-shapes'));
  const decoder = createImageDecoder({ wasm: nodeImageCodecs() });
  const per = 3 * info.preprocess.cropHeight * info.preprocess.cropWidth;
  const pixels = new Float32Array(evalSet.images.length * per);
  for (const [i, item] of evalSet.images.entries()) {
    const { crop } = await decoder.decodeForClip(new Uint8Array(readFileSync(path.join(EVAL_DIR, item.file))), info.preprocess);
    pixels.set(clipNormalize(crop, info.preprocess), i * per);
  }
  const backend = wasmBackend();
  await backend.init();
  for (const v of VARIANTS) {
    const file = info.variants[v]!.vision!.file;
    const session = await backend.createSession(new Uint8Array(readFileSync(path.join(MODEL_DIR, file))));
    const picks: number[] = [];
    for (let i = 0; i < evalSet.images.length; i += BATCH) {
      const n = Math.min(BATCH, evalSet.images.length - i);
      const out = await session.run({ pixel_values: backend.tensor('float32', pixels.subarray(i * per, (i + n) * per), [n, 3, info.preprocess.cropHeight, info.preprocess.cropWidth]) });
      const emb = normalizeRows(new Float32Array(out.image_embeds!.data as Float32Array), dim);
      for (let j = 0; j < n; j++) picks.push(topK(logits(emb.subarray(j * dim, (j + 1) * dim), matrix, dim, info.logitScale), 1)[0]!);
    }
    await session.release?.();
    top1.set(v, picks);
  }
}, 600_000);

const accuracy = (v: Variant, split: 'seen' | 'held_out') => {
  const idx = evalSet.images.flatMap((im, i) => (im.split === split ? [i] : []));
  return idx.filter((i) => evalSet.labels[top1.get(v)![i]!] === evalSet.images[i]!.label).length / idx.length;
};
const agreement = (v: Variant) => top1.get(v)!.filter((p, i) => p === top1.get('fp32')![i]).length / evalSet.images.length;

describe('quantized vision variants on the eval set (WASM, 464 images, 64 labels)', () => {
  it('fp32 reaches the accuracy the recipe measured in PyTorch (the baseline the variants are compared with)', () => {
    console.log(
      ['variant  agreement  seen    held-out', ...VARIANTS.map((v) => `${v.padEnd(8)} ${(agreement(v) * 100).toFixed(1).padStart(6)} %  ${(accuracy(v, 'seen') * 100).toFixed(1)} %  ${(accuracy(v, 'held_out') * 100).toFixed(1)} %`)].join('\n'),
    );
    const torch = (JSON.parse(readFileSync(path.join(MODEL_DIR, 'manifest.json'), 'utf8')) as { accuracy: { top1: { ensemble: { seen: number; held_out: number } } } }).accuracy.top1.ensemble;
    expect(Math.abs(accuracy('fp32', 'seen') - torch.seen)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(accuracy('fp32', 'held_out') - torch.held_out)).toBeLessThanOrEqual(0.01);
  });

  it.each(['int8', 'fp16'] as const)('%s: top-1 equals fp32\'s on ≥ 97 % of images, and accuracy stays within 2 points of fp32', (v) => {
    expect(agreement(v)).toBeGreaterThanOrEqual(0.97);
    for (const split of ['seen', 'held_out'] as const) expect(Math.abs(accuracy(v, split) - accuracy('fp32', split)), split).toBeLessThanOrEqual(0.02);
  });
});
