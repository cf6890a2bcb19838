import { beforeAll, describe, expect, inject, it } from 'vitest';
import worker from '../../../src/runtime/workers/worker.ts';
import { envWith, populate, repoFile } from './helpers.ts';

// Issue 18's reproduction inside workerd, through the Worker's own entry (wrangler.toml `main`):
// the in-flight limit is per isolate and the same core guard runs here. Two uploads that send 5 of
// 100 bytes and stall get 503 TIMEOUT; a normal classify afterwards must get 200, not
// 503 OVERLOADED, and the gauge must be back at 0. Also: a client that goes away mid-upload and a
// body stream that errors each give their slot back.
const answers = inject('nodeAnswers');
let JPEG: Uint8Array;
beforeAll(async () => {
  await populate();
  JPEG = await repoFile(answers.images.find((i) => i.file.endsWith('.jpg'))!.file);
});

const env = () => envWith({ CLIP_EDGE_MAX_IN_FLIGHT: '2', CLIP_EDGE_REQUEST_TIMEOUT_MS: '400' });
const ctx = { waitUntil: () => {}, passThroughOnException: () => {} };

/** A body that sends `bytes` and then nothing, never closing (a stalled upload); or errors after them. */
function stallingBody(bytes: Uint8Array, then: 'stall' | 'error' = 'stall'): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    pull(c) {
      if (!sent) {
        sent = true;
        c.enqueue(bytes);
        return;
      }
      if (then === 'error') c.error(new Error('connection reset'));
      return new Promise(() => {}); // never more
    },
  });
}

describe('a stalled upload never costs capacity for good, inside workerd', () => {
  it('two stalled uploads get 503 TIMEOUT; then a normal classify gets 200 and the gauge is 0', async () => {
    const e = env();
    const call = (r: Request) => Promise.resolve(worker.fetch(r, e, ctx));
    const stalled = () =>
      call(
        new Request('https://clip.example/v1/classify?labelSet=tiny-clip-shapes', {
          method: 'POST',
          headers: { 'content-type': 'image/jpeg', 'content-length': '100' },
          body: stallingBody(new TextEncoder().encode('abcde')),
          duplex: 'half',
        } as RequestInit),
      );
    const rs = await Promise.all([stalled(), stalled()]);
    for (const r of rs) {
      expect(r.status).toBe(503);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('TIMEOUT');
    }
    const ok = await call(new Request('https://clip.example/v1/classify?labelSet=tiny-clip-shapes&topK=1', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: JPEG as Uint8Array<ArrayBuffer> }));
    expect(ok.status, await ok.clone().text()).toBe(200);
    const oks = await Promise.all([0, 1].map(() => call(new Request('https://clip.example/v1/classify?labelSet=tiny-clip-shapes&topK=1', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: JPEG as Uint8Array<ArrayBuffer> }))));
    expect(oks.map((r) => r.status)).toEqual([200, 200]);
    const g = (await (await call(new Request('https://clip.example/v1/load'))).json()) as { inFlight: number; admitted: number; released: number; abandoned: number };
    expect(g).toMatchObject({ inFlight: 0, abandoned: 0 });
    expect(g.released).toBe(g.admitted);
  });

  it('a client that goes away mid-upload, and a body stream that errors, each give the slot back', async () => {
    const e = env();
    const call = (r: Request) => Promise.resolve(worker.fetch(r, e, ctx));
    const gone = new AbortController();
    const post = (body: ReadableStream<Uint8Array>, signal?: AbortSignal) =>
      call(new Request('https://clip.example/v1/classify?labelSet=tiny-clip-shapes', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body, duplex: 'half', ...(signal ? { signal } : {}) } as RequestInit));
    const a = post(stallingBody(JPEG.subarray(0, 64)), gone.signal);
    const b = post(stallingBody(JPEG.subarray(0, 64), 'error'));
    setTimeout(() => gone.abort(), 50);
    const [ra, rb] = await Promise.all([a, b]);
    expect(rb.status).toBe(400); // the upload broke off: the client's fault, answered, not a 500
    expect([499, 503]).toContain(ra.status); // nobody reads it; CANCELLED (or TIMEOUT if the abort came late)
    const g = (await (await call(new Request('https://clip.example/v1/load'))).json()) as { inFlight: number; admitted: number; released: number };
    expect(g.inFlight).toBe(0);
    expect(g.released).toBe(g.admitted);
    const ok = await call(new Request('https://clip.example/v1/classify?labelSet=tiny-clip-shapes&topK=1', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: JPEG as Uint8Array<ArrayBuffer> }));
    expect(ok.status).toBe(200);
  });
});
