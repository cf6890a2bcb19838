/** Vector math of CLIP's zero-shot classification, on flat row-major Float32Arrays. */

/** L2-normalises each row of a [rows, dim] matrix in place and returns it. */
export function normalizeRows(m: Float32Array, dim: number): Float32Array {
  for (let r = 0; r < m.length; r += dim) {
    let s = 0;
    for (let i = r; i < r + dim; i++) s += m[i]! * m[i]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let i = r; i < r + dim; i++) m[i]! *= inv;
  }
  return m;
}

/**
 * CLIP's prompt ensembling: class embedding = normalize(mean(normalize(text_embed(prompt)))).
 * `groups[k]` lists the rows of `embeds` (one per prompt) that belong to class k.
 */
export function ensemble(embeds: Float32Array, dim: number, groups: readonly (readonly number[])[]): Float32Array {
  normalizeRows(embeds, dim);
  const out = new Float32Array(groups.length * dim);
  groups.forEach((rows, k) => {
    for (const r of rows) for (let i = 0; i < dim; i++) out[k * dim + i]! += embeds[r * dim + i]!;
  });
  return normalizeRows(out, dim);
}

/** logits[k] = scale · <image, class_k> for a normalised image embedding and [K, dim] class matrix. */
export function logits(image: Float32Array, classes: Float32Array, dim: number, scale: number): Float32Array {
  const k = classes.length / dim;
  const out = new Float32Array(k);
  for (let c = 0; c < k; c++) {
    let s = 0;
    const base = c * dim;
    for (let i = 0; i < dim; i++) s += image[i]! * classes[base + i]!;
    out[c] = scale * s;
  }
  return out;
}

export function softmax(x: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of x) max = Math.max(max, v);
  const out = new Float32Array(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += out[i] = Math.exp(x[i]! - max);
  for (let i = 0; i < x.length; i++) out[i]! /= sum;
  return out;
}

/** Indices of the k largest values, largest first (ties keep the lower index first). */
export function topK(x: Float32Array, k: number): number[] {
  const idx = Array.from(x.keys());
  idx.sort((a, b) => x[b]! - x[a]! || a - b);
  return idx.slice(0, Math.max(0, Math.min(k, x.length)));
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb || 1);
}

/** CLIP's zero-shot scoring: softmax over `scale · cosine` of one image against K classes, best k first. */
export function rankLabels(
  image: Float32Array,
  classes: Float32Array,
  labels: readonly string[],
  o: { dim: number; scale: number; k: number },
): { label: string; score: number; logit: number }[] {
  const lg = logits(image, classes, o.dim, o.scale);
  const probs = softmax(lg);
  return topK(probs, o.k).map((i) => ({ label: labels[i]!, score: probs[i]!, logit: lg[i]! }));
}
