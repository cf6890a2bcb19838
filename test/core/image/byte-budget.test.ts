import { afterEach, describe, expect, it, vi } from 'vitest';
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

describe('ByteBudget: how a waiter learns of its grant', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const flush = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };

  it('resolves a waiter directly by default (Node, Deno, Bun, browsers): no timer runs', async () => {
    vi.useFakeTimers();
    const b = new ByteBudget(() => 10);
    const t = tracker(b);
    await t.take('a', 10);
    void t.take('b', 10);
    t.release('a');
    await flush(); // no timer advanced: the release itself handed b its grant
    expect(t.granted).toEqual(['a', 'b']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('with pollGrants (Workers) a waiter picks its grant up on its own timer', async () => {
    vi.useFakeTimers();
    const b = new ByteBudget(() => 10, { pollGrants: true });
    const t = tracker(b);
    await t.take('a', 10);
    void t.take('b', 10);
    t.release('a');
    await flush();
    expect(t.granted).toEqual(['a']); // granted (its bytes are held) but not yet picked up
    expect(b.inUse).toBe(10);
    await vi.advanceTimersByTimeAsync(GRANT_POLL_MS);
    expect(t.granted).toEqual(['a', 'b']);
  });

  it('a polled grant whose request is cancelled before it picks it up comes back at once (its timers may never run again)', async () => {
    vi.useFakeTimers();
    const b = new ByteBudget(() => 10, { pollGrants: true });
    const t = tracker(b);
    await t.take('a', 10);
    const ac = new AbortController();
    const waiting = t.take('b', 10, ac.signal);
    void t.take('c', 10);
    t.release('a'); // b is granted, not yet picked up (no timer has run)
    expect(b.inUse).toBe(10);
    ac.abort(new ClipEdgeError('CANCELLED', 'client went away'));
    await expect(waiting).rejects.toMatchObject({ code: 'CANCELLED' });
    // b's bytes went straight to c: nothing waited for a timer of the cancelled request.
    expect(b.queued).toBe(0);
    expect(b.inUse).toBe(10);
    await vi.advanceTimersByTimeAsync(GRANT_POLL_MS);
    expect(t.granted).toEqual(['a', 'c']);
  });

  it('with pollGrants (Workers) the releasing request never touches a waiter\'s signal; an aborted waiter hands its grant on from its own timer', async () => {
    vi.useFakeTimers();
    const b = new ByteBudget(() => 10, { pollGrants: true });
    const t = tracker(b);
    await t.take('a', 10);
    const ac = new AbortController();
    // workerd: a request's signal read from another request's handler throws (seen in the recovery
    // test: "Cannot perform I/O on behalf of a different request", a 500). Reads are allowed only
    // while `own` is set, i.e. from the waiter's own timer; its listeners are never told.
    let own = false;
    const guarded = <T>(v: () => T) => () => {
      if (!own) throw new Error('Cannot perform I/O on behalf of a different request');
      return v();
    };
    const foreign = Object.assign(Object.create(ac.signal) as AbortSignal, { addEventListener() {}, removeEventListener() {} });
    Object.defineProperty(foreign, 'aborted', { get: guarded(() => ac.signal.aborted) });
    Object.defineProperty(foreign, 'reason', { get: guarded(() => ac.signal.reason) });
    own = true;
    const waiting = t.take('b', 10, foreign);
    own = false;
    void t.take('c', 10);
    ac.abort(new ClipEdgeError('TIMEOUT', 'deadline'));
    expect(() => t.release('a')).not.toThrow(); // a's request grants b without reading b's signal
    own = true; // b's timer runs in b's own context
    const outcome = expect(waiting).rejects.toMatchObject({ code: 'TIMEOUT' });
    await vi.advanceTimersByTimeAsync(GRANT_POLL_MS);
    await outcome;
    await vi.advanceTimersByTimeAsync(GRANT_POLL_MS);
    expect(t.granted).toEqual(['a', 'c']);
    expect(b.inUse).toBe(10);
  });

  it('passes over a waiter whose signal has aborted when its turn comes, even if its abort listener never ran', async () => {
    const b = new ByteBudget(() => 10);
    const t = tracker(b);
    await t.take('a', 10);
    const ac = new AbortController();
    // A signal whose listeners are never told (as in a request context that was torn down).
    const deaf = Object.assign(Object.create(ac.signal) as AbortSignal, { addEventListener() {}, removeEventListener() {} });
    Object.defineProperty(deaf, 'aborted', { get: () => ac.signal.aborted });
    Object.defineProperty(deaf, 'reason', { get: () => ac.signal.reason });
    const waiting = t.take('b', 10, deaf);
    void t.take('c', 10);
    ac.abort(new ClipEdgeError('TIMEOUT', 'deadline'));
    t.release('a');
    await expect(waiting).rejects.toMatchObject({ code: 'TIMEOUT' });
    await settled();
    expect(t.granted).toEqual(['a', 'c']);
    expect(b.inUse).toBe(10);
  });
});
