// PyTorch's softmax probabilities for a few eval images × label sets (models/recipes/tiny-clip/
// reference.py → test/fixtures/tiny-clip-eval/torch-probs.json): the outside reference that
// classify() must reproduce on every runtime. No node:* imports: workerd and Chromium tests use it too.

export interface TorchProbCase {
  /** Path under test/fixtures/tiny-clip-eval/. */
  image: string;
  set: string;
  /** Asked by name (the shipped prompt cache) when set; else inline labels + templates. */
  labelSet?: string;
  labels: string[];
  templates: string[];
  top1: string;
  probs: number[];
}

export interface TorchProbs {
  model: { vision_sha256: string; text_sha256: string; logitScale: number };
  cases: TorchProbCase[];
}

/** Tolerance on every probability (fp32 ONNX vs PyTorch, PIL-exact decode, ≤ 1-level resize differences, fp16 prompt caches). */
export const PROB_TOLERANCE = 1e-3;

/** The request of a case: the label set by name, or the labels with their templates; every class returned. */
export function caseRequest(c: TorchProbCase): { labelSet?: string; labels?: string[]; templates?: string[]; topK: number } {
  return c.labelSet ? { labelSet: c.labelSet, topK: c.labels.length } : { labels: c.labels, templates: c.templates, topK: c.labels.length };
}

/** The same request as /v1/classify query parameters. */
export function caseQuery(c: TorchProbCase): string {
  const r = caseRequest(c);
  const q = new URLSearchParams([['topK', String(r.topK)]]);
  if (r.labelSet) q.set('labelSet', r.labelSet);
  for (const l of r.labels ?? []) q.append('labels', l);
  for (const t of r.templates ?? []) q.append('templates', t);
  return q.toString();
}

/**
 * Largest |score − PyTorch probability| over the case's classes; a class missing from the answer
 * counts as a gap of 1, so an answer with fewer or other labels cannot pass.
 */
export function probGap(c: TorchProbCase, results: readonly { label: string; score: number }[]): number {
  const got = new Map(results.map((r) => [r.label, r.score]));
  let gap = got.size === c.labels.length ? 0 : 1;
  c.labels.forEach((label, i) => {
    const s = got.get(label);
    gap = Math.max(gap, s === undefined ? 1 : Math.abs(s - c.probs[i]!));
  });
  return gap;
}
