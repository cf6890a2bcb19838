import { describe, expect, it, vi } from 'vitest';
import { createBytePool } from '../../src/http/byte-pool.ts';

describe.each([false, true])('byte pool (request bodies held at once), pollGrants %s', (pollGrants) => {
  it('grants while there is room, then first come first served as bytes come back', async () => {
    const pool = createBytePool(10, { pollGrants });
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
    const pool = createBytePool(4, { pollGrants });
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

describe('byte pool: how a waiter learns of its grant', () => {
  it('without pollGrants (Node, Deno, Bun) it is resolved by the release itself, no timer involved; with it (Workers) on its own timer', async () => {
    vi.useFakeTimers();
    try {
      const direct = createBytePool(4);
      const held = await direct.acquire(4);
      const next = direct.acquire(4);
      held();
      (await next)(); // no timer advanced: resolved by the release
      const polled = createBytePool(4, { pollGrants: true });
      const held2 = await polled.acquire(4);
      let granted = false;
      const next2 = polled.acquire(4).then((r) => ((granted = true), r));
      held2();
      for (let i = 0; i < 10; i++) await Promise.resolve();
      expect(granted).toBe(false); // waits for its own timer
      await vi.runOnlyPendingTimersAsync();
      (await next2)();
      expect(granted).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
