import { beforeAll, describe, expect, it } from 'vitest';
import { createWorkersApp } from '../../../src/runtime/workers/app.ts';
import { PROB_TOLERANCE, caseQuery, probGap, type TorchProbs } from '../../helpers/torch-probs.ts';
import { envWith, populate, repoFile } from './helpers.ts';

const EVAL = 'test/fixtures/tiny-clip-eval';
let reference: TorchProbs;
beforeAll(async () => {
  // The fp32 vision tower (the reference's precision) and the text tower for the inline-label cases.
  await populate({ variant: 'fp32', text: true });
  reference = JSON.parse(new TextDecoder().decode(await repoFile(`${EVAL}/torch-probs.json`))) as TorchProbs;
});

describe('the Worker in workerd answers PyTorch\'s softmax probabilities (fp32, within 1e-3)', () => {
  it('every reference case: labelSet from KV, inline labels through the text tower', async () => {
    const app = createWorkersApp(envWith({ CLIP_EDGE_VARIANT: 'fp32', CLIP_EDGE_TEXT: 'true' }));
    expect(reference.cases.length).toBeGreaterThanOrEqual(18);
    for (const c of reference.cases) {
      const body = await repoFile(`${EVAL}/${c.image}`);
      const res = await app.request(`/v1/classify?${caseQuery(c)}`, { method: 'POST', headers: { 'content-type': c.image.endsWith('.png') ? 'image/png' : 'image/jpeg' }, body: body as BodyInit });
      expect(res.status, `${c.image} × ${c.set}`).toBe(200);
      const answer = (await res.json()) as { results: { label: string; score: number }[]; variant: { vision: string } };
      expect(answer.variant.vision).toBe('fp32');
      expect(answer.results[0]!.label, `${c.image} × ${c.set}`).toBe(c.top1);
      expect(probGap(c, answer.results), `${c.image} × ${c.set}`).toBeLessThanOrEqual(PROB_TOLERANCE);
    }
  }, 240_000);
});
