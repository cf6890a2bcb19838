// The overload guard on its own (createOverloadGuard, no createClipApp around it), served on Node over
// real HTTP on 127.0.0.1: a stalled upload must end its work at the deadline because the body read
// itself fails then. In the full app the drain middleware's release() also cancels the body when a
// request times out, which would hide a body read that no longer fails at the deadline on Node (only
// workerd noticed: issue 29); here nothing else cancels it, so the guard's own read is what is tested.
import { type AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawExchange, requestHead } from '../../bench/lib/socket.ts';
import { isClipEdgeError } from '../../src/core/errors.ts';
import { createOverloadGuard, type OverloadGuard } from '../../src/http/overload.ts';

const DEADLINE_MS = 300;
let server: ServerType;
let url: string;
let guard: OverloadGuard;
/** How each handler's body read ended: the bytes read, or the error code it failed with. */
const reads: string[] = [];

beforeAll(async () => {
  // The backstop (abandonAfterMs) far past the test's waits: a slot may come back only because the work ended.
  guard = createOverloadGuard({ maxInFlight: 1, requestTimeoutMs: DEADLINE_MS, abandonAfterMs: 60_000 });
  const app = new Hono();
  app.use('/upload', guard.middleware);
  app.post('/upload', async (c) => {
    try {
      const n = (await c.req.arrayBuffer()).byteLength;
      reads.push(`read ${n}`);
      return c.json({ bytes: n });
    } catch (e) {
      reads.push(isClipEdgeError(e) ? e.code : String(e));
      throw e;
    }
  });
  app.get('/load', (c) => c.json(guard.gauge()));
  app.onError((e, c) => c.json({ error: { code: isClipEdgeError(e) ? e.code : 'INTERNAL' } }, isClipEdgeError(e) && (e.code === 'TIMEOUT' || e.code === 'OVERLOADED') ? 503 : 500));
  await new Promise<void>((ready) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => ready());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

/** `Content-Length: 100` and 5 body bytes, then nothing: the socket stays open (until the test gives up on it). */
const stalledUpload = () => rawExchange(url, { pieces: [requestHead('POST', '/upload', ['Content-Type: application/octet-stream', 'Content-Length: 100']), 'abcde'], timeoutMs: 5_000 });

describe('overload guard alone on Node: a stalled upload', () => {
  it('gets 503 TIMEOUT at the deadline, its body read fails then, and its slot is back at once (not by the backstop)', async () => {
    const stalled = await stalledUpload();
    expect(stalled.status).toBe(503);
    expect(JSON.parse(stalled.body)).toEqual({ error: { code: 'TIMEOUT' } });
    // The handler's read ended with the deadline's error; the work is over, so the slot was given back.
    await expect.poll(() => reads.length, { timeout: 2_000 }).toBe(1);
    expect(reads).toEqual(['TIMEOUT']);
    expect(guard.gauge()).toMatchObject({ inFlight: 0, admitted: 1, released: 1, abandoned: 0 });
    // maxInFlight 1: the next upload is admitted (a slot still held would answer 503 OVERLOADED).
    const ok = await fetch(`${url}/upload`, { method: 'POST', body: new Uint8Array(1000) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ bytes: 1000 });
    expect(reads).toEqual(['TIMEOUT', 'read 1000']);
    expect(guard.gauge()).toMatchObject({ inFlight: 0, admitted: 2, released: 2, abandoned: 0 });
  });
});
