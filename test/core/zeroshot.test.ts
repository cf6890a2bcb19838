import { describe, expect, it } from 'vitest';
import { cosine, ensemble, logits, normalizeRows, rankLabels, softmax, topK } from '../../src/core/zeroshot.ts';

describe('zero-shot math', () => {
  it('normalizes rows to unit length and leaves zero rows at zero', () => {
    const m = normalizeRows(new Float32Array([3, 4, 0, 0]), 2);
    expect(m[0]).toBeCloseTo(0.6, 6);
    expect(m[1]).toBeCloseTo(0.8, 6);
    expect([m[2], m[3]]).toEqual([0, 0]);
  });

  it('ensembles as normalize(mean(normalize(e))) per class (CLIP paper)', () => {
    // class 0: prompts (2,0) and (0,1) -> normalized (1,0),(0,1) -> mean (0.5,0.5) -> (0.707,0.707)
    const out = ensemble(new Float32Array([2, 0, 0, 1, 5, 5]), 2, [[0, 1], [2]]);
    expect(out[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(out[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(out[2]).toBeCloseTo(Math.SQRT1_2, 6);
  });

  it('scales cosine similarities by logit_scale', () => {
    const img = new Float32Array([1, 0]);
    const classes = new Float32Array([1, 0, 0, 1, Math.SQRT1_2, Math.SQRT1_2]);
    expect(Array.from(logits(img, classes, 2, 100)).map((x) => Math.round(x * 1000) / 1000)).toEqual([100, 0, 70.711]);
  });

  it('softmax is stable for large logits and sums to 1', () => {
    const p = softmax(new Float32Array([1000, 999, -1000]));
    expect(p[0]! + p[1]! + p[2]!).toBeCloseTo(1, 6);
    expect(p[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
    expect(p[2]).toBe(0);
  });

  it('topK orders by value, ties by index, and clamps k', () => {
    const x = new Float32Array([0.1, 0.5, 0.5, 0.2]);
    expect(topK(x, 3)).toEqual([1, 2, 3]);
    expect(topK(x, 10)).toHaveLength(4);
    expect(topK(x, 0)).toEqual([]);
  });

  it('cosine of a vector with itself is 1, with its opposite -1', () => {
    const a = new Float32Array([1, 2, 3]);
    expect(cosine(a, a)).toBeCloseTo(1, 6);
    expect(cosine(a, a.map((v) => -v))).toBeCloseTo(-1, 6);
  });
});

describe('rankLabels', () => {
  it('answers the best k labels with softmax(scale · cosine) scores and their logits, computed here by hand', () => {
    // Unit image (1, 0); classes at 0°, 90° and 60° from it: cosines 1, 0, 0.5.
    const image = new Float32Array([1, 0]);
    const classes = new Float32Array([1, 0, 0, 1, 0.5, Math.sqrt(3) / 2]);
    const scale = 10;
    const z = [10, 0, 5];
    const sum = z.reduce((a, v) => a + Math.exp(v), 0);
    const r = rankLabels(image, classes, ['cat', 'dog', 'bird'], { dim: 2, scale, k: 2 });
    expect(r.map((x) => x.label)).toEqual(['cat', 'bird']);
    expect(r[0]!.score).toBeCloseTo(Math.exp(10) / sum, 6);
    expect(r[1]!.score).toBeCloseTo(Math.exp(5) / sum, 6);
    expect(r[0]!.logit).toBeCloseTo(10, 5);
    expect(r[1]!.logit).toBeCloseTo(5, 5);
    expect(rankLabels(image, classes, ['cat', 'dog', 'bird'], { dim: 2, scale, k: 5 }).map((x) => x.label)).toEqual(['cat', 'bird', 'dog']);
  });
});
