import { describe, expect, it } from 'vitest';
import { createBatchQueue } from '../../src/core/batch-queue.ts';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('batch queue (serialised runs + micro-batching)', () => {
  it('never runs two batches at once and batches what queued up meanwhile', async () => {
    const gate = deferred();
    const batches: number[][] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const q = createBatchQueue<number, number>(async (items) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      batches.push(items);
      if (batches.length === 1) await gate.promise;
      concurrent--;
      return items.map((x) => x * 10);
    }, { maxBatch: 8 });
    const first = q.push([1]);
    await Promise.resolve();
    await Promise.resolve();
    const rest = [q.push([2]), q.push([3, 4]), q.push([5])];
    gate.resolve();
    expect(await first).toEqual([10]);
    expect(await Promise.all(rest)).toEqual([[20], [30, 40], [50]]);
    expect(maxConcurrent).toBe(1);
    expect(batches).toEqual([[1], [2, 3, 4, 5]]);
  });

  it('requests arriving in the same tick share the first run', async () => {
    const batches: number[][] = [];
    const q = createBatchQueue<number, number>(async (items) => (batches.push(items), items));
    await Promise.all([q.push([1]), q.push([2]), q.push([3])]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('splits at maxBatch', async () => {
    const sizes: number[] = [];
    const q = createBatchQueue<number, number>(async (items) => (sizes.push(items.length), items), { maxBatch: 4 });
    const out = await q.push(Array.from({ length: 10 }, (_, i) => i));
    expect(out).toHaveLength(10);
    expect(sizes).toEqual([4, 4, 2]);
  });

  it('a failed run rejects its own items only; the queue keeps working', async () => {
    let calls = 0;
    const q = createBatchQueue<number, number>(async (items) => {
      if (calls++ === 0) throw new Error('boom');
      return items;
    });
    await expect(q.push([1])).rejects.toThrow('boom');
    expect(await q.push([2])).toEqual([2]);
  });

  it('takes a push larger than maxQueue when nothing waits (split into runs)', async () => {
    const q = createBatchQueue<number, number>(async (items) => items, { maxBatch: 4, maxQueue: 5 });
    expect(await q.push(Array.from({ length: 12 }, (_, i) => i))).toHaveLength(12);
  });

  it('refuses work beyond maxQueue with OVERLOADED', async () => {
    const gate = deferred();
    const q = createBatchQueue<number, number>(async (items) => (await gate.promise, items), { maxBatch: 1, maxQueue: 2 });
    const a = q.push([1]);
    await Promise.resolve();
    await Promise.resolve();
    const b = q.push([2, 3]);
    await expect(q.push([4])).rejects.toMatchObject({ code: 'OVERLOADED' });
    gate.resolve();
    await Promise.all([a, b]);
  });

  it('a waiting push whose signal aborts is taken out of the queue and never runs', async () => {
    const gate = deferred();
    const ran: number[][] = [];
    const q = createBatchQueue<number, number>(async (items) => (ran.push(items), await gate.promise, items), { maxBatch: 8 });
    const a = q.push([1]);
    await Promise.resolve();
    await Promise.resolve();
    const ctl = new AbortController();
    const b = q.push([2, 3], ctl.signal);
    const c = q.push([4]);
    expect(q.depth).toBe(3);
    ctl.abort(new Error('client gone'));
    await expect(b).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(q.depth).toBe(1);
    gate.resolve();
    expect(await a).toEqual([1]);
    expect(await c).toEqual([4]);
    expect(ran).toEqual([[1], [4]]);
  });

  it('an abort reason that is a ClipEdgeError (a timeout) is what the push rejects with; an aborted signal never queues', async () => {
    const { ClipEdgeError } = await import('../../src/core/errors.ts');
    const ran: number[][] = [];
    const q = createBatchQueue<number, number>(async (items) => (ran.push(items), items));
    await expect(q.push([1], AbortSignal.abort(new ClipEdgeError('TIMEOUT', 'late')))).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(ran).toEqual([]);
    expect(q.depth).toBe(0);
  });
});
