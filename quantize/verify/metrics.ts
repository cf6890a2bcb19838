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

/** Top-1 class of every labelled image (index into `images`) under the given class matrices. */
export function predictions(images: readonly VerifyImage[], imageEmbeds: Float32Array, classes: Map<string, Float32Array>, dim: number): Map<number, number> {
  const out = new Map<number, number>();
  images.forEach((img, i) => {
    const m = img.classSet ? classes.get(img.classSet) : undefined;
    if (!m) return;
    out.set(i, topK(logits(imageEmbeds.subarray(i * dim, (i + 1) * dim), m, dim, 1), 1)[0]!);
  });
  return out;
}

export interface Top1Stats {
  /** Share of labelled images whose top-1 class is the same as float32's. */
  agreement: number;
  /** Top-1 accuracy against the labels, float32 and variant. */
  fp32Accuracy: number;
  accuracy: number;
  n: number;
}

export function top1(images: readonly VerifyImage[], fp32: Map<number, number>, variant: Map<number, number>): Top1Stats {
  let same = 0;
  let right32 = 0;
  let right = 0;
  for (const [i, p] of fp32) {
    const q = variant.get(i);
    if (q === p) same++;
    if (p === images[i]!.label) right32++;
    if (q === images[i]!.label) right++;
  }
  const n = fp32.size;
  return { agreement: n ? same / n : NaN, fp32Accuracy: n ? right32 / n : NaN, accuracy: n ? right / n : NaN, n };
}
