/** A latency summary: median and 90th percentile of the timed runs (warm-up runs excluded). */
export interface Summary {
  medianMs: number;
  p90Ms: number;
  n: number;
}

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
export const median = (xs: readonly number[]): number => {
  const s = sorted(xs);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** Nearest-rank 90th percentile. */
export const p90 = (xs: readonly number[]): number => sorted(xs)[Math.max(0, Math.ceil(xs.length * 0.9) - 1)]!;

export const summarise = (ms: readonly number[]): Summary => {
  if (!ms.length) throw new Error('no timed runs');
  return { medianMs: median(ms), p90Ms: p90(ms), n: ms.length };
};

/** Runs `fn` `warmup` times untimed, then `n` times timed. */
export async function timeRuns(n: number, fn: (i: number) => unknown, warmup = 1): Promise<Summary> {
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    ms.push(performance.now() - t);
  }
  return summarise(ms);
}

export const MiB = 1024 * 1024;
