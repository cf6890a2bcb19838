import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { drainable, drainUnreadBodies } from '../../src/http/unread-body.ts';

// The app reads what it left of a request body before answering (workerd and Node reset
// a connection whose body was left unread, and the client loses the answer). These check the
// wrapper's bounds with a source that counts what was pulled from it.

const CHUNK = 64 * 1024;

/** A body of `chunks` chunks of 64 KiB that records how many were read and whether it was cancelled; `stallAfter` chunks then nothing. */
function source(chunks: number, stallAfter = Infinity) {
  const seen = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      if (seen.pulled >= stallAfter) return new Promise<void>(() => {});
      if (seen.pulled === chunks) return ctrl.close();
      seen.pulled++;
      ctrl.enqueue(new Uint8Array(CHUNK));
    },
    cancel() {
      seen.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, seen };
}

const request = (body: ReadableStream<Uint8Array>, length?: number) =>
  new Request('http://x/v1/classify', { method: 'POST', body, duplex: 'half', headers: length === undefined ? {} : { 'content-length': String(length) } } as RequestInit);

const bounds = { maxBytes: 10 * 2 ** 20, ms: 5_000, idleMs: 200 };

describe('drainable: what the app leaves of a body is read before the answer', () => {
  it('a body the app never reads is read to its end', async () => {
    const { stream, seen } = source(40);
    const d = drainable(request(stream, 40 * CHUNK), bounds);
    await d.drain();
    expect(seen.pulled).toBe(40);
  });

  it('a body the app cancels part-way (a refusal mid-parse) is read to its end', async () => {
    const { stream, seen } = source(40);
    const d = drainable(request(stream, 40 * CHUNK), bounds);
    const reader = d.request.body!.getReader();
    expect((await reader.read()).value?.byteLength).toBe(CHUNK);
    await reader.cancel(new Error('too many parts'));
    expect(seen.cancelled).toBe(false);
    await d.drain();
    expect(seen.pulled).toBe(40);
  });

  it('what the app reads arrives unchanged, and a body read to its end needs no drain', async () => {
    const { stream, seen } = source(5);
    const d = drainable(request(stream, 5 * CHUNK), bounds);
    expect((await d.request.arrayBuffer()).byteLength).toBe(5 * CHUNK);
    expect(await d.drain()).toBe(true);
    expect(seen).toEqual({ pulled: 5, cancelled: false });
  });

  it('a body the app read to its end needs no drain even when its declared length is past the drain bound', async () => {
    const { stream, seen } = source(40);
    const d = drainable(request(stream, 40 * CHUNK), { ...bounds, maxBytes: 10 * CHUNK });
    expect((await d.request.arrayBuffer()).byteLength).toBe(40 * CHUNK);
    expect(await d.drain()).toBe(true);
    expect(seen).toEqual({ pulled: 40, cancelled: false });
  });

  it('a client that keeps sending slowly is not waited for past the time bound (each gap shorter than the idle bound)', async () => {
    let pulled = 0;
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        await new Promise((r) => setTimeout(r, 20));
        pulled++;
        ctrl.enqueue(new Uint8Array(16)); // 16 bytes every 20 ms: 10 MiB would take hours
      },
      cancel() {
        cancelled = true;
      },
    }, { highWaterMark: 0 });
    const d = drainable(request(stream), { ...bounds, ms: 300, idleMs: 200 });
    expect(await d.drain()).toBe(false);
    expect(cancelled).toBe(true);
    expect(pulled).toBeGreaterThan(0);
  });

  it('a declared length over the bound is not read at all', async () => {
    const { stream, seen } = source(40);
    const d = drainable(request(stream, 40 * CHUNK), { ...bounds, maxBytes: 10 * CHUNK });
    await d.drain();
    expect(seen).toEqual({ pulled: 0, cancelled: true });
  });

  it('a body without a length is read up to the bound, then let go', async () => {
    const { stream, seen } = source(40);
    const d = drainable(request(stream), { ...bounds, maxBytes: 10 * CHUNK });
    await d.drain();
    expect(seen.pulled).toBeLessThanOrEqual(12);
    expect(seen.pulled).toBeGreaterThanOrEqual(10);
    expect(seen.cancelled).toBe(true);
  });

  it('a body without a length that the app read past the bound (its size limit) is not drained', async () => {
    const { stream, seen } = source(40);
    const d = drainable(request(stream), { ...bounds, maxBytes: 10 * CHUNK });
    const reader = d.request.body!.getReader();
    for (let i = 0; i < 11; i++) await reader.read();
    await reader.cancel(new Error('over the limit'));
    await d.drain();
    expect(seen).toEqual({ pulled: 11, cancelled: true });
  });

  it('a stalled client is not waited for past the idle bound', async () => {
    const { stream, seen } = source(40, 3);
    const d = drainable(request(stream, 40 * CHUNK), bounds);
    await d.drain(); // would never end without the idle bound (the test's own timeout would fail it)
    expect(seen.pulled).toBe(3);
    expect(seen.cancelled).toBe(true);
  });

  it('release() lets the body go unread', async () => {
    const { stream, seen } = source(40);
    const d = drainable(request(stream, 40 * CHUNK), bounds);
    d.release();
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual({ pulled: 0, cancelled: true });
  });

  it('a body the app had a read pending on, under a second wrapper reading ahead (overload.ts does), is read to its end, each byte counted once', async () => {
    // A source like workerd's: a second read while one is pending is refused.
    let pulled = 0;
    let reading = false;
    const stream = new ReadableStream<Uint8Array>(
      {
        async pull(ctrl) {
          if (reading) throw new TypeError('only one pending read at a time');
          reading = true;
          await new Promise((r) => setTimeout(r, 2));
          reading = false;
          if (pulled === 40) return ctrl.close();
          pulled++;
          ctrl.enqueue(new Uint8Array(CHUNK));
        },
      },
      { highWaterMark: 0 },
    );
    // Exactly the body limit: one byte counted twice would stop the drain short of the end.
    const d = drainable(request(stream, 40 * CHUNK), { ...bounds, maxBytes: 40 * CHUNK });
    const outer = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        const r = await reader.read();
        if (r.done) ctrl.close();
        else ctrl.enqueue(r.value);
      },
    });
    const reader = d.request.body!.getReader();
    const app = outer.getReader();
    await app.read(); // the app reads one chunk, the wrapper reads ahead, then the app gives up
    void app.cancel();
    expect(await d.drain()).toBe(true);
    expect(pulled).toBe(40);
  });

  it('drain() says whether the body was read to its end', async () => {
    expect(await drainable(request(source(3).stream, 3 * CHUNK), bounds).drain()).toBe(true);
    expect(await drainable(request(source(40, 3).stream, 40 * CHUNK), bounds).drain()).toBe(false);
    expect(await drainable(request(source(40).stream, 40 * CHUNK), { ...bounds, maxBytes: CHUNK }).drain()).toBe(false);
  });

  it('a declared length over the body limit but within maxDeclaredBytes is read to its end', async () => {
    const { stream, seen } = source(40);
    const d = drainable(request(stream, 40 * CHUNK), { ...bounds, maxBytes: 10 * CHUNK, maxDeclaredBytes: 40 * CHUNK });
    expect(await d.drain()).toBe(true);
    expect(seen).toEqual({ pulled: 40, cancelled: false });
  });

  it('a request without a body passes through as it is', async () => {
    const r = new Request('http://x/healthz');
    const d = drainable(r, bounds);
    expect(d.request).toBe(r);
    expect(await d.drain()).toBe(true);
    d.release();
  });

  it('a body whose stream fails (a reset connection) ends the drain at once: not read to its end, nothing thrown', async () => {
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (++pulled > 3) throw new Error('connection reset');
        ctrl.enqueue(new Uint8Array(CHUNK));
      },
    }, { highWaterMark: 0 });
    // No time or idle bound to stop it: only the error can end this drain before the test's timeout.
    const d = drainable(request(stream, 40 * CHUNK), { ...bounds, ms: 600_000, idleMs: 600_000 });
    expect(await d.drain()).toBe(false);
  });

  it('once the drain owns the body, the app\'s stream ends (done, not an error)', async () => {
    const { stream, seen } = source(40);
    const d = drainable(request(stream, 40 * CHUNK), bounds);
    const reader = d.request.body!.getReader();
    const drained = d.drain();
    expect(await reader.read()).toEqual({ done: true, value: undefined });
    expect(await drained).toBe(true);
    expect(seen.pulled).toBe(40);
  });
});

/** A body of `chunks` chunks that sends one, then waits until `open()` (a slow upload being drained). */
function gatedSource(chunks: number) {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  let reachedGate!: () => void;
  const atGate = new Promise<void>((r) => (reachedGate = r));
  const { stream: rest, seen } = source(chunks - 1);
  const reader = rest.getReader();
  let first = true;
  const stream = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      if (first) {
        first = false;
        ctrl.enqueue(new Uint8Array(CHUNK));
        return;
      }
      reachedGate();
      await opened;
      const r = await reader.read();
      if (r.done) ctrl.close();
      else ctrl.enqueue(r.value);
    },
  }, { highWaterMark: 0 });
  return { stream, atGate, open, pulledAfterGate: () => seen.pulled };
}

describe('drainUnreadBodies: at most maxConcurrent drains at once', () => {
  // A route that refuses every upload without reading it (as a 413 / 415 / 401 does), behind the
  // middleware alone: each test makes its own, so no earlier drain holds a slot.
  const refusing = (maxConcurrent: number) => {
    const app = new Hono();
    app.use('*', drainUnreadBodies({ ...bounds, idleMs: 30_000, ms: 30_000, maxConcurrent }));
    app.post('/v1/classify', (c) => c.json({ error: { code: 'PAYLOAD_TOO_LARGE' } }, 413));
    return app;
  };

  it('the 17th refused upload while 16 are being drained is let go unread and answered at once; the 16 are read to their end', async () => {
    const app = refusing(16);
    const slow = Array.from({ length: 16 }, () => gatedSource(40));
    const answers = slow.map((s) => app.request(request(s.stream, 40 * CHUNK)));
    await Promise.all(slow.map((s) => s.atGate)); // every drain holds a slot, waiting on its client
    const { stream, seen } = source(40);
    const seventeenth = await app.request(request(stream, 40 * CHUNK));
    expect(seventeenth.status).toBe(413);
    await new Promise((r) => setTimeout(r, 10));
    // Let go: cancelled after at most the one chunk the Request's stream machinery reads ahead (a drain reads all 40).
    expect(seen.cancelled, 'the 17th body is let go').toBe(true);
    expect(seen.pulled, 'the 17th body is not drained').toBeLessThanOrEqual(1);
    for (const s of slow) s.open();
    for (const r of await Promise.all(answers)) expect(r.status).toBe(413);
    expect(slow.map((s) => s.pulledAfterGate()), 'each of the 16 read to its end (1 chunk before the gate, 39 after)').toEqual(Array(16).fill(39));
  });

  it('a finished drain gives its slot back: after 16 at once have ended, the next refused upload is drained to its end', async () => {
    const app = refusing(16);
    const slow = Array.from({ length: 16 }, () => gatedSource(4));
    const answers = slow.map((s) => app.request(request(s.stream, 4 * CHUNK)));
    await Promise.all(slow.map((s) => s.atGate));
    for (const s of slow) s.open();
    await Promise.all(answers);
    for (let i = 0; i < 3; i++) {
      const { stream, seen } = source(40);
      expect((await app.request(request(stream, 40 * CHUNK))).status).toBe(413);
      expect(seen).toEqual({ pulled: 40, cancelled: false });
    }
  });

  it('an answer that said Connection: close loses the header once the body was read to its end, and keeps it when it was not', async () => {
    const app = new Hono();
    app.use('*', drainUnreadBodies({ ...bounds, maxBytes: 10 * CHUNK, maxConcurrent: 16 }));
    app.post('/v1/classify', (c) => c.json({ error: { code: 'UNSUPPORTED_MEDIA_TYPE' } }, 415, { Connection: 'close' }));
    const read = await app.request(request(source(5).stream, 5 * CHUNK));
    expect(read.status).toBe(415);
    expect(read.headers.get('connection')).toBeNull();
    const tooLong = await app.request(request(source(40).stream, 40 * CHUNK)); // declared past the bound: not drained
    expect(tooLong.status).toBe(415);
    expect(tooLong.headers.get('connection')).toBe('close');
    // Only a `close` the full read made untrue is taken off: an answer without the header gets none, another value stays.
    const plain = new Hono();
    plain.use('*', drainUnreadBodies({ ...bounds, maxConcurrent: 16 }));
    plain.post('/v1/classify', (c) => c.json({ error: { code: 'UNSUPPORTED_MEDIA_TYPE' } }, 415));
    plain.post('/v1/keep', (c) => c.json({ error: { code: 'UNSUPPORTED_MEDIA_TYPE' } }, 415, { Connection: 'keep-alive' }));
    expect((await plain.request(request(source(5).stream, 5 * CHUNK))).headers.get('connection')).toBeNull();
    const keep = new Request('http://x/v1/keep', { method: 'POST', body: source(5).stream, duplex: 'half', headers: { 'content-length': String(5 * CHUNK) } } as RequestInit);
    expect((await plain.request(keep)).headers.get('connection')).toBe('keep-alive');
  });

  it('an OPTIONS request (a CORS preflight) with a body is passed through: its body is not drained', async () => {
    const app = new Hono();
    app.use('*', drainUnreadBodies({ ...bounds, maxConcurrent: 16 }));
    app.options('/v1/classify', (c) => c.body(null, 204));
    const { stream, seen } = source(40);
    const r = await app.request(new Request('http://x/v1/classify', { method: 'OPTIONS', body: stream, duplex: 'half', headers: { 'content-length': String(40 * CHUNK) } } as RequestInit));
    expect(r.status).toBe(204);
    await new Promise((ok) => setTimeout(ok, 10));
    expect(seen.pulled).toBeLessThanOrEqual(1);
  });

  it('with maxConcurrent 1, a second upload refused while the first is drained is let go; the third, after, is drained', async () => {
    const app = refusing(1);
    const first = gatedSource(4);
    const answer = app.request(request(first.stream, 4 * CHUNK));
    await first.atGate;
    const second = source(40);
    expect((await app.request(request(second.stream, 40 * CHUNK))).status).toBe(413);
    await new Promise((r) => setTimeout(r, 10));
    expect(second.seen.cancelled).toBe(true);
    expect(second.seen.pulled).toBeLessThanOrEqual(1);
    first.open();
    await answer;
    const third = source(40);
    await app.request(request(third.stream, 40 * CHUNK));
    expect(third.seen).toEqual({ pulled: 40, cancelled: false });
  });
});
