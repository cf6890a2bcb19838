// Seeded synthetic embeddings shaped like CLIP's, for tuning an approximate index without the real
// model's weights (not available here). Designed (and measured by describe()) to give:
// - clusters: K = N / 100 centres; a point is normalize(centre + σ·z/√d) with z standard normal, so
//   its noise has norm ≈ σ. Two points of one cluster then have cosine ≈ 1 / (1 + σ²): σ = 0.5 → 0.8
//   (CLIP ViT-B/32 image pairs of one subject sit around 0.75–0.9).
// - a narrow cone: every centre is normalize(a·m + g/√d) around one shared mean direction m. Two
//   centres have cosine a² / (1 + a²); a = 1.29 → 0.625, so two unrelated points have cosine
//   ≈ 0.625 · 0.8 = 0.5, as unrelated CLIP image embeddings do (they are far from isotropic).
// - the modality gap: a "text" query is normalize(centre + β·gap + τ·z/√d), gap one unit vector
//   shared by every text (orthogonal to the cone's axis: CLIP's text and image embeddings sit in two
//   separate cones, "Mind the Gap", Liang et al. 2022) and β² + τ² = 7.92, so its cosine to the
//   images of its own cluster is ≈ 1 / √((1 + σ²)(1 + β² + τ²)) = 0.3 (CLIP's typical matching
//   text–image score) and ≈ 0.19 to unrelated images. β = 2.63, τ = 1: two unrelated texts then
//   have cosine ≈ 0.85 (CLIP's texts cluster too). "text-iso" queries put the whole offset in the
//   random part (β = 0, τ = 2.81): same mean scores, but the top 10 of a query is then decided by
//   noise in 512 directions, a worst case for any approximate index.
// Uniform vectors (no clusters, no cone) are the other worst case for an index of clusters.
export interface ClipLikeShape { clusterNoise: number; cone: number; textGap: number; textNoise: number; isoTextNoise: number }
export const CLIP_LIKE: ClipLikeShape = { clusterNoise: 0.5, cone: 1.29, textGap: 2.63, textNoise: 1, isoTextNoise: 2.81 };

/** mulberry32: a small seeded generator (Math.random cannot be seeded). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Standard normal samples (Box–Muller). */
function gaussian(r: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - r();
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    spare = m * Math.sin(2 * Math.PI * v);
    return m * Math.cos(2 * Math.PI * v);
  };
}

function normalize(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  const inv = 1 / Math.sqrt(n);
  for (let i = 0; i < v.length; i++) v[i]! *= inv;
  return v;
}

export const cosine = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** base + scale·z/√d, normalised. */
function around(base: Float32Array, scale: number, g: () => number): Float32Array {
  const k = scale / Math.sqrt(base.length);
  return normalize(base.map((x) => x + k * g()));
}

export interface ClipLikeSet {
  centres: Float32Array[];
  /** The indexed "image" embeddings, and the cluster of each. */
  points: Float32Array[];
  clusterOf: Int32Array;
  /** Held-out images of the same clusters (image → image search). */
  imageQueries: Float32Array[];
  /** Text-like queries (text → image search), and the cluster each one describes. */
  textQueries: Float32Array[];
  textClusters: Int32Array;
  /** The same clusters' text queries with an all-random offset (the worst case). */
  isoTextQueries: Float32Array[];
}

export function clipLike(n: number, dim: number, queries: number, seed: number, shape = CLIP_LIKE): ClipLikeSet {
  const r = rng(seed);
  const g = gaussian(r);
  const k = Math.max(1, Math.round(n / 100));
  const mean = normalize(Float32Array.from({ length: dim }, g));
  const gap = Float32Array.from({ length: dim }, g);
  const along = cosine(gap, mean);
  normalize(gap.map((x, i) => x - along * mean[i]!)).forEach((x, i) => (gap[i] = x * shape.textGap));
  const centres = Array.from({ length: k }, () => around(mean.map((x) => x * shape.cone), 1, g));
  const clusterOf = Int32Array.from({ length: n }, () => Math.floor(r() * k));
  const points = Array.from(clusterOf, (c) => around(centres[c]!, shape.clusterNoise, g));
  const imageQueries = Array.from({ length: queries }, () => around(centres[Math.floor(r() * k)]!, shape.clusterNoise, g));
  const textClusters = Int32Array.from({ length: queries }, () => Math.floor(r() * k));
  const textQueries = Array.from(textClusters, (c) => around(centres[c]!.map((x, i) => x + gap[i]!), shape.textNoise, g));
  const isoTextQueries = Array.from(textClusters, (c) => around(centres[c]!, shape.isoTextNoise, g));
  return { centres, points, clusterOf, imageQueries, textQueries, textClusters, isoTextQueries };
}

/** Uniformly random unit vectors (no structure): the worst case for IVF partitions. */
export function uniform(n: number, dim: number, seed: number): Float32Array[] {
  const g = gaussian(rng(seed));
  return Array.from({ length: n }, () => normalize(Float32Array.from({ length: dim }, g)));
}

/** Measured mean cosines of a set (a sample of 2,000 pairs of each kind). */
export function describe(s: ClipLikeSet, seed = 7): Record<string, number> {
  const r = rng(seed);
  const pick = (n: number) => Math.floor(r() * n);
  const byCluster = new Map<number, number[]>();
  s.clusterOf.forEach((c, i) => byCluster.set(c, [...(byCluster.get(c) ?? []), i]));
  const mean = (f: () => number | undefined) => {
    const xs = Array.from({ length: 2000 }, f).filter((x) => x !== undefined);
    return xs.reduce((a, x) => a + x, 0) / xs.length;
  };
  const member = (c: number) => {
    const m = byCluster.get(c);
    return m?.length ? s.points[m[pick(m.length)]!]! : undefined;
  };
  return {
    sameCluster: mean(() => {
      const m = byCluster.get(s.clusterOf[pick(s.points.length)]!)!;
      const a = m[pick(m.length)]!, b = m[pick(m.length)]!;
      return a === b ? undefined : cosine(s.points[a]!, s.points[b]!);
    }),
    unrelated: mean(() => cosine(s.points[pick(s.points.length)]!, s.points[pick(s.points.length)]!)),
    textToOwn: mean(() => {
      const q = pick(s.textQueries.length);
      const p = member(s.textClusters[q]!);
      return p && cosine(s.textQueries[q]!, p);
    }),
    textToUnrelated: mean(() => cosine(s.textQueries[pick(s.textQueries.length)]!, s.points[pick(s.points.length)]!)),
    textToText: mean(() => cosine(s.textQueries[pick(s.textQueries.length)]!, s.textQueries[pick(s.textQueries.length)]!)),
    isoTextToOwn: mean(() => {
      const q = pick(s.isoTextQueries.length);
      const p = member(s.textClusters[q]!);
      return p && cosine(s.isoTextQueries[q]!, p);
    }),
  };
}
