import { cosine, ensemble, logits, topK } from '../../src/core/zeroshot.ts';
import type { VerifyImage } from './data.ts';

export interface CosineStats {
  mean: number;
  min: number;
  n: number;
}

/** Cosine of each row of two [n, dim] embedding matrices. */
export function rowCosines(a: Float32Array, b: Float32Array, dim: number): CosineStats {
  const n = a.length / dim;
  let sum = 0;
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    const c = cosine(a.subarray(i * dim, (i + 1) * dim), b.subarray(i * dim, (i + 1) * dim));
    sum += c;
    min = Math.min(min, c);
  }
  return { mean: n ? sum / n : NaN, min: n ? min : NaN, n };
}

/** Class matrices ([K, dim]) per class set, CLIP's prompt ensemble over the prompt embeddings. */
export function classMatrices(promptEmbeds: Float32Array, dim: number, groups: Map<string, number[][]>): Map<string, Float32Array> {
  return new Map([...groups].map(([name, g]) => [name, ensemble(promptEmbeds.slice(), dim, g)]));
}

/**
 * Top-1 class of every labelled image (index into `images`) under the given class matrices, with
 * the cosine margin between the best and the second-best class (how near a tie the decision is).
 */
export function predictions(
  images: readonly VerifyImage[],
  imageEmbeds: Float32Array,
  classes: Map<string, Float32Array>,
  dim: number,
): Map<number, number> & { margins: number[] } {
  const out = Object.assign(new Map<number, number>(), { margins: [] as number[] });
  images.forEach((img, i) => {
    const m = img.classSet ? classes.get(img.classSet) : undefined;
    if (!m) return;
    const l = logits(imageEmbeds.subarray(i * dim, (i + 1) * dim), m, dim, 1);
    const [a, b] = topK(l, 2);
    out.set(i, a!);
    out.margins.push(b === undefined ? Infinity : l[a!]! - l[b]!);
  });
  return out;
}

export interface Top1Stats {
  /** Share of labelled images whose top-1 class is the same as float32's. */
  agreement: number;
  n: number;
  /** Median cosine gap between float32's first and second class: near 0, top-1 flips on noise. */
  fp32MarginMedian: number;
  /** Top-1 accuracy against the labels, per class set: float32 and variant. */
  accuracy: Record<string, { fp32: number; variant: number; n: number }>;
}

export function top1(images: readonly VerifyImage[], fp32: Map<number, number> & { margins: number[] }, variant: Map<number, number>): Top1Stats {
  let same = 0;
  const acc: Record<string, { fp32: number; variant: number; n: number }> = {};
  for (const [i, p] of fp32) {
    const img = images[i]!;
    const q = variant.get(i);
    if (q === p) same++;
    const a = (acc[img.classSet!] ??= { fp32: 0, variant: 0, n: 0 });
    a.n++;
    if (p === img.label) a.fp32++;
    if (q === img.label) a.variant++;
  }
  for (const a of Object.values(acc)) {
    a.fp32 /= a.n;
    a.variant /= a.n;
  }
  const n = fp32.size;
  const m = [...fp32.margins].sort((x, y) => x - y);
  return { agreement: n ? same / n : NaN, n, fp32MarginMedian: m.length ? m[m.length >> 1]! : NaN, accuracy: acc };
}
