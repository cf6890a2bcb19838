import { describe, expect, it } from 'vitest';
import { ByteBudget, GRANT_POLL_MS } from '../../../src/core/image/byte-budget.ts';
import { ClipEdgeError } from '../../../src/core/errors.ts';

// A waiter picks its grant up on its own timer (GRANT_POLL_MS): wait a few of those.
const settled = () => new Promise((r) => setTimeout(r, GRANT_POLL_MS * 5));

/** Acquires and records the order in which grants arrive. */
function tracker(b: ByteBudget) {
  const granted: string[] = [];
  const releases = new Map<string, () => void>();
  const take = (name: string, bytes: number, signal?: AbortSignal) =>
    b.acquire(bytes, signal).then((release) => {
      granted.push(name);
      releases.set(name, release);
    });
  return { granted, take, release: (name: string) => releases.get(name)!() };
}

describe('ByteBudget (decode memory shared by concurrent decodes)', () => {
  it('grants what fits at once and holds the rest until releases make room, first come first served', async () => {
    const b = new ByteBudget(() => 100);
    const t = tracker(b);
    void t.take('a', 60);
    void t.take('b', 30);
    void t.take('c', 50); // 60 + 30 + 50 > 100: waits
    void t.take('d', 5); // would fit, but must not overtake c (no starvation of large decodes)
    await settled();
    expect(t.granted).toEqual(['a', 'b']);
    expect(b.inUse).toBe(90);
    expect(b.queued).toBe(2);
    t.release('a');
    await settled();
    expect(t.granted).toEqual(['a', 'b', 'c', 'd']);
    expect(b.inUse).toBe(85);
    t.release('b');
    t.release('c');
    t.release('d');
    t.release('d'); // a second release is a no-op
    expect(b.inUse).toBe(0);
  });

  it('grants a reservation larger than the budget once nothing else is held (the caller refuses what can never fit)', async () => {
    const b = new ByteBudget(() => 10);
    const t = tracker(b);
    void t.take('small', 4);
    void t.take('huge', 50);
    await settled();
    expect(t.granted).toEqual(['small']);
    t.release('small');
    await settled();
    expect(t.granted).toEqual(['small', 'huge']);
  });

  it('a waiter whose signal aborts leaves the queue with the signal\'s reason, and the next one moves up', async () => {
    const b = new ByteBudget(() => 100);
    const t = tracker(b);
    await t.take('a', 90);
    const ac = new AbortController();
    const waiting = t.take('big', 50, ac.signal);
    void t.take('c', 10);
    await settled();
    expect(t.granted).toEqual(['a']); // c fits but waits behind big
    const reason = new ClipEdgeError('TIMEOUT', 'deadline');
    ac.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await settled();
    expect(t.granted).toEqual(['a', 'c']);
    expect(b.queued).toBe(0);
    expect(b.inUse).toBe(100);
  });

  it('an already aborted signal is refused at once (CANCELLED for a reason that is not a ClipEdgeError)', async () => {
    const b = new ByteBudget(() => 100);
    const ac = new AbortController();
    ac.abort(new Error('client left'));
    await expect(b.acquire(1, ac.signal)).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(b.inUse).toBe(0);
  });

  it('asks a budget function at each grant (the room an isolate has left can change)', async () => {
    let budget = 10;
    const b = new ByteBudget(() => budget);
    const t = tracker(b);
    void t.take('a', 8);
    void t.take('b', 8);
    await settled();
    expect(t.granted).toEqual(['a']);
    budget = 20;
    void t.take('c', 1); // queued behind b; nothing is re-checked until a release
    t.release('a');
    await settled();
    expect(t.granted).toEqual(['a', 'b', 'c']);
  });
});
