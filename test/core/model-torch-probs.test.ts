import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClipApp } from '../../src/http/app.ts';
import type { ClipEdge } from '../../src/core/clip.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { EVAL_DIR, MODEL_DIR } from '../helpers/clip.ts';
import { PROB_TOLERANCE, caseQuery, caseRequest, probGap, type TorchProbs } from '../helpers/torch-probs.ts';

const reference = JSON.parse(readFileSync(path.join(EVAL_DIR, 'torch-probs.json'), 'utf8')) as TorchProbs;
const image = (f: string) => new Uint8Array(readFileSync(path.join(EVAL_DIR, f)));
const sha = (f: string) => createHash('sha256').update(readFileSync(path.join(MODEL_DIR, f))).digest('hex');

describe('classify() on Node equals PyTorch\'s softmax probabilities (fp32, within 1e-3)', () => {
  let clip: ClipEdge;
  beforeAll(async () => {
    clip = await createNodeClipEdge({ backend: 'wasm', visionVariant: 'fp32', textVariant: 'fp32' });
  });

  it('the reference was made from the shipped fp32 files and logit scale', () => {
    expect(reference.model.vision_sha256).toBe(sha('onnx/vision_model.onnx'));
    expect(reference.model.text_sha256).toBe(sha('onnx/text_model.onnx'));
    expect(reference.model.logitScale).toBe(clip.info.logitScale);
    expect(new Set(reference.cases.map((c) => c.set)).size).toBeGreaterThanOrEqual(3);
  });

  it.each(reference.cases.map((c) => [`${c.image} × ${c.set}`, c] as const))('%s', async (_, c) => {
    const r = await clip.classify(image(c.image), caseRequest(c));
    expect(r.variant.vision).toBe('fp32');
    expect(r.results[0]!.label).toBe(c.top1);
    expect(probGap(c, r.results)).toBeLessThanOrEqual(PROB_TOLERANCE);
  });

  it('through the HTTP API too (query parameters → the same probabilities)', async () => {
    const app = createClipApp({ clip });
    for (const c of reference.cases.filter((_, i) => i % 5 === 0)) {
      const res = await app.request(`/v1/classify?${caseQuery(c)}`, { method: 'POST', headers: { 'content-type': c.image.endsWith('.png') ? 'image/png' : 'image/jpeg' }, body: image(c.image) });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { results: { label: string; score: number }[] };
      expect(probGap(c, body.results), `${c.image} × ${c.set}`).toBeLessThanOrEqual(PROB_TOLERANCE);
    }
  });
});
