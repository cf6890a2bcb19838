// The write queue's grouping rules (src/search/drivers/lancedb-writes.ts) over a store that records
// its commits: the LanceDB driver's tests (lancedb-writes.test.ts) run it on a real folder; here the
// cases a folder cannot be made to show on demand (a failing commit, the row cap of a group).
import { describe, expect, it } from 'vitest';
import { createWriteQueue, type WriteStore } from '../../src/search/drivers/lancedb-writes.ts';
import type { CheckedRecord } from '../../src/search/validate.ts';

const rec = (id: string, n = 0): CheckedRecord => ({ id, vector: new Float32Array([1, n]), metadata: { n } });

function recordingStore(failOn?: string) {
  const rows = new Map<string, CheckedRecord>();
  const commits: string[][] = [];
  const store: WriteStore = {
    async upsert(batch) {
      await new Promise((r) => setTimeout(r, 5));
      if (batch.some((r) => r.id === failOn)) throw new Error(`disk full while writing ${failOn}`);
      commits.push(batch.map((r) => r.id));
      for (const r of batch) rows.set(r.id, r);
    },
    async delete(ids) {
      commits.push(ids.map((id) => `-${id}`));
      const found = new Set(ids.filter((id) => rows.has(id)));
      for (const id of found) rows.delete(id);
      return found;
    },
  };
  return { store, rows, commits };
}

describe('LanceDB write queue', () => {
  it('concurrent calls share commits, capped at maxRows; an id written twice in a group keeps the last write', async () => {
    const { store, rows, commits } = recordingStore();
    const q = createWriteQueue(store, { lingerMs: 1, maxRows: 4 });
    const acks = await Promise.all([q.upsert([rec('a', 1), rec('b')]), q.upsert([rec('a', 2)]), q.upsert([rec('c'), rec('d')]), q.upsert([rec('e')])]);
    expect(acks).toEqual([2, 1, 2, 1]);
    expect(commits).toEqual([['a', 'b'], ['c', 'd', 'e']]); // 2 + 1 rows fit, the next 2 would make 5
    expect(rows.get('a')!.metadata).toEqual({ n: 2 });
  });

  it('a failed commit fails every call in it, and only those; later calls go on', async () => {
    const { store, rows } = recordingStore('bad');
    const q = createWriteQueue(store, { lingerMs: 1 });
    const results = await Promise.allSettled([q.upsert([rec('ok-1')]), q.upsert([rec('bad')])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason.message).toMatch(/disk full/);
    expect(rows.size).toBe(0);
    expect(await q.upsert([rec('ok-2')])).toBe(1);
    expect([...rows.keys()]).toEqual(['ok-2']);
  });

  it('exclusive tasks run between commits, in call order; idle() waits for all', async () => {
    const { store, commits } = recordingStore();
    const q = createWriteQueue(store, { lingerMs: 0 });
    const order: string[] = [];
    void q.upsert([rec('x')]).then(() => order.push('x'));
    void q.exclusive(async () => order.push(`task after ${commits.length} commit(s)`));
    void q.delete(['x']).then((n) => order.push(`deleted ${n}`));
    await q.idle();
    expect(order).toEqual(['x', 'task after 1 commit(s)', 'deleted 1']);
  });
});
