/**
 * A byte-bounded LRU of promised values, one per isolate or process. A pending promise holds its
 * slot (concurrent callers share one computation); a rejected one leaves the cache, so the next
 * caller tries again; a fulfilled one is counted by `sizeOf` and the oldest entries go first.
 */
export interface PromiseLru<V> {
  /** The cached promise (its position refreshed), or `compute()`'s, cached from now on. */
  get(key: string, compute: () => Promise<V>): { value: Promise<V>; hit: boolean };
  readonly usedBytes: number;
}

export function createPromiseLru<V>(maxBytes: number, sizeOf: (v: V) => number): PromiseLru<V> {
  const slots = new Map<string, { value: Promise<V>; bytes: number }>();
  let used = 0;
  const evict = () => {
    for (const [k, v] of slots) {
      if (used <= maxBytes) break;
      slots.delete(k);
      used -= v.bytes;
    }
  };
  return {
    get(key, compute) {
      const hit = slots.get(key);
      if (hit) {
        slots.delete(key); // refresh the LRU position
        slots.set(key, hit);
        return { value: hit.value, hit: true };
      }
      const slot = { value: compute(), bytes: 0 };
      slots.set(key, slot);
      slot.value.then(
        (v) => {
          if (slots.get(key) !== slot) return;
          slot.bytes = sizeOf(v);
          used += slot.bytes;
          evict();
        },
        () => {
          if (slots.get(key) === slot) slots.delete(key);
        },
      );
      return { value: slot.value, hit: false };
    },
    get usedBytes() {
      return used;
    },
  };
}
