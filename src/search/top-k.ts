/**
 * The k best (row, score) pairs of a score function over n rows, best first. A bounded sorted
 * buffer: O(n log k) comparisons in the common case (k ≪ n), no allocation per row.
 */
export function topK(n: number, k: number, score: (row: number) => number, keep: (row: number) => boolean = () => true): { row: number; score: number }[] {
  const rows = new Int32Array(k);
  const scores = new Float64Array(k);
  let size = 0;
  for (let r = 0; r < n; r++) {
    if (!keep(r)) continue;
    const s = score(r);
    if (size === k && s <= scores[size - 1]!) continue;
    // Binary search for the insertion point in the descending buffer.
    let lo = 0;
    let hi = size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (scores[mid]! >= s) lo = mid + 1;
      else hi = mid;
    }
    const end = Math.min(size, k - 1);
    rows.copyWithin(lo + 1, lo, end);
    scores.copyWithin(lo + 1, lo, end);
    rows[lo] = r;
    scores[lo] = s;
    if (size < k) size++;
  }
  return Array.from({ length: size }, (_, i) => ({ row: rows[i]!, score: scores[i]! }));
}
