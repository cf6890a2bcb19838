import { describe, expect, it } from 'vitest';
import { createBytePool } from '../../src/http/byte-pool.ts';

describe('byte pool (request bodies held at once)', () => {
  it('grants while there is room, then first come first served as bytes come back', async () => {
    const pool = createBytePool(10);
    const a = await pool.acquire(6);
    const order: string[] = [];
    const b = pool.acquire(6).then((r) => (order.push('b'), r));
    const c = pool.acquire(1).then((r) => (order.push('c'), r)); // fits now, but waits behind b (no overtaking)
    await Promise.resolve();
    expect(pool.used).toBe(6);
    a();
    a(); // idempotent
    const rb = await b;
    const rc = await c;
    expect(order).toEqual(['b', 'c']);
    expect(pool.used).toBe(7);
    rb();
    rc();
    expect(pool.used).toBe(0);
  });

  it('a waiting request that is aborted leaves the queue and gives nothing back twice', async () => {
    const pool = createBytePool(4);
    const a = await pool.acquire(4);
    const ctl = new AbortController();
    const waiting = pool.acquire(2, ctl.signal);
    const next = pool.acquire(2);
    ctl.abort(new Error('timeout'));
    await expect(waiting).rejects.toThrow('timeout');
    a();
    (await next)();
    expect(pool.used).toBe(0);
    expect(() => pool.acquire(5)).toThrow(/cannot hold 5 bytes in a pool of 4/);
  });
});
