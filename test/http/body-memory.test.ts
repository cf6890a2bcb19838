import { describe, expect, it } from 'vitest';
import { ClipEdgeError } from '../../src/core/errors.ts';
import { createClipApp } from '../../src/http/app.ts';

// The body pool (bodyMemoryBytes, Workers: CLIP_EDGE_BODY_MEMORY_MB) must bound a body of unknown
// length (chunked: no Content-Length) too: it is reserved before any byte is read, and it may not
// grow past the pool. Here the kit never loads (the bytes are all the test needs).
const POOL = 1000;

/** A chunked body of `chunks` chunks of 500 bytes that counts how many were pulled. */
function chunked(chunks: number) {
  const seen = { pulled: 0 };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(ctrl) {
        if (seen.pulled === chunks) return ctrl.close();
        seen.pulled++;
        ctrl.enqueue(new Uint8Array(500).fill(0xff));
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, seen };
}

const appWithPool = (kit: () => Promise<never> = () => Promise.reject(new ClipEdgeError('MODEL_NOT_FOUND', 'no kit in this test'))) =>
  createClipApp({
    clip: kit,
    maxBodyBytes: 100_000,
    bodyMemoryBytes: POOL,
  });

const post = (body: ReadableStream<Uint8Array>) =>
  new Request('http://x/v1/embed/image', { method: 'POST', body, duplex: 'half', headers: { 'content-type': 'image/jpeg' } } as RequestInit);

describe('body pool: a chunked body', () => {
  it('larger than the pool is 413, not held whole beside the pool', async () => {
    const { stream } = chunked(10); // 5,000 bytes against a 1,000-byte pool
    const r = await appWithPool().request(post(stream));
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('is not read before its reservation: it waits while the pool is held', async () => {
    // One request holds the pool with a declared length whose body stalls after a chunk, while its
    // kit is still loading (a raw body is read only when its decode's turn comes).
    let fail!: () => void;
    const loading = new Promise<never>((_, reject) => (fail = () => reject(new ClipEdgeError('MODEL_NOT_FOUND', 'no kit in this test'))));
    const app = appWithPool(() => loading);
    let release!: () => void;
    const stalled = new ReadableStream<Uint8Array>({
      start(ctrl) {
        ctrl.enqueue(new Uint8Array(100));
        release = () => {
          ctrl.close();
          fail();
        };
      },
    });
    const holder = app.request(
      new Request('http://x/v1/embed/image', { method: 'POST', body: stalled, duplex: 'half', headers: { 'content-type': 'image/jpeg', 'content-length': String(POOL) } } as RequestInit),
    );
    await new Promise((r) => setTimeout(r, 50));
    const { stream, seen } = chunked(10);
    const waiting = app.request(post(stream));
    await new Promise((r) => setTimeout(r, 50));
    // Nothing read while it waits for the pool, but what the request's body wrappers buffer (two chunks; all ten before).
    expect(seen.pulled).toBeLessThanOrEqual(2);
    release();
    await holder;
    expect((await waiting).status).toBe(413);
  });
});
