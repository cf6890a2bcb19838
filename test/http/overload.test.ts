import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClipApp } from '../../src/http/app.ts';
import type { Backend, SessionLike } from '../../src/core/backend.ts';
import type { ClipEdge } from '../../src/core/clip.ts';
import { tokenBucketRateLimiter } from '../../src/http/overload.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { wasmBackend } from '../../src/runtime/fs/ort.ts';
import { EVAL_DIR, type EvalSet } from '../helpers/clip.ts';

// Overload behaviour of the core app (the same on Node, Deno, Bun and Workers), against the real
// model on the real WASM backend. The one test double: a gate in front of session.run, so that a
// run can be held while more requests arrive (the only way to make "the queue is full" happen
// deterministically without timing assumptions). Every image that reaches the session is counted.

const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
const JPEG = new Uint8Array(readFileSync(path.join(EVAL_DIR, evalSet.images.find((i) => i.file.endsWith('.jpg'))!.file)));

interface Gate {
  /** Images each session.run was given, in order. */
  runs: number[];
  hold(): void;
  release(): void;
  /** Resolves once `n` runs have started. */
  started(n: number): Promise<void>;
}

function gatedBackend(real: Backend): { backend: Backend; gate: Gate } {
  let open: Promise<void> = Promise.resolve();
  let openIt = () => {};
  const runs: number[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const gate: Gate = {
    runs,
    hold: () => (open = new Promise<void>((r) => (openIt = r))),
    release: () => openIt(),
    started: (n) => new Promise<void>((resolve) => (runs.length >= n ? resolve() : waiters.push({ n, resolve }))),
  };
  const backend: Backend = {
    ...real,
    name: real.name,
    priority: real.priority,
    preferred: real.preferred,
    init: () => real.init(),
    tensor: real.tensor.bind(real) as Backend['tensor'],
    async createSession(model) {
      const s = await real.createSession(model);
      const wrapped: SessionLike = {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        ...(s.outputMetadata ? { outputMetadata: s.outputMetadata } : {}),
        run: async (feeds, fetches) => {
          runs.push(feeds.pixel_values?.dims[0] ?? feeds.input_ids?.dims[0] ?? 0);
          for (const w of waiters.filter((w) => runs.length >= w.n)) w.resolve();
          await open;
          return s.run(feeds, fetches);
        },
      };
      return wrapped;
    },
  };
  return { backend, gate };
}

let clip: ClipEdge;
let gate: Gate;
beforeAll(async () => {
  const g = gatedBackend(wasmBackend());
  gate = g.gate;
  clip = await createNodeClipEdge({ backends: [g.backend], text: false });
  await clip.warmup();
});

const classify = (app: ReturnType<typeof createClipApp>, init: RequestInit = {}) =>
  app.request('/v1/classify?labelSet=tiny-clip-shapes&topK=1', {
    method: 'POST',
    body: JPEG as Uint8Array<ArrayBuffer>,
    ...init,
    headers: { 'content-type': 'image/jpeg', ...(init.headers as Record<string, string> | undefined) },
  });

const errorOf = async (r: Response) => ((await r.json()) as { error: { code: string; message: string } }).error;

describe('overload: bounded work in flight', () => {
  it('answers 503 OVERLOADED with Retry-After beyond maxInFlight, before reading the body; the others complete', async () => {
    const app = createClipApp({ clip, overload: { maxInFlight: 2, requestTimeoutMs: 0 } });
    const before = gate.runs.length;
    gate.hold();
    const a = classify(app);
    await gate.started(before + 1);
    const b = classify(app); // waits in the inference queue: in flight
    const c = await classify(app);
    expect(c.status).toBe(503);
    expect(c.headers.get('retry-after')).toBe('1');
    const err = await errorOf(c);
    expect(err.code).toBe('OVERLOADED');
    expect(err.message).toMatch(/2 requests in progress, limit 2/);
    // GET routes are not counted.
    expect((await app.request('/v1/models')).status).toBe(200);
    gate.release();
    expect((await a).status).toBe(200);
    expect((await b).status).toBe(200);
    expect((await classify(app)).status).toBe(200); // capacity is back
  });

  it('the inference queue limit (items per tower) also answers 503 OVERLOADED: one run, two waiting, the rest refused without running', async () => {
    const g = gatedBackend(wasmBackend());
    const small = await createNodeClipEdge({ backends: [g.backend], text: false, maxQueue: 2, maxBatch: 1 });
    const app = createClipApp({ clip: small, overload: { maxInFlight: 100, requestTimeoutMs: 0 } });
    g.gate.hold();
    const first = classify(app);
    await g.gate.started(1); // its run holds the session; nothing waits in the queue
    const rest = Array.from({ length: 5 }, () => classify(app));
    const answered: Response[] = [];
    for (const r of rest) void Promise.resolve(r).then((res) => answered.push(res));
    // maxQueue 2: two of the five wait behind the run; the other three are refused at once.
    await expect.poll(() => answered.length, { timeout: 30_000 }).toBe(3);
    for (const r of answered) {
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('1');
      const err = await errorOf(r);
      expect(err.code).toBe('OVERLOADED');
      expect(err.message).toMatch(/inference queue is full \(2 waiting, limit 2\)/);
    }
    g.gate.release();
    expect((await first).status).toBe(200);
    const statuses = (await Promise.all(rest)).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 503, 503, 503]);
    expect(g.gate.runs, 'three runs of one image each: the refused images never reached the session').toEqual([1, 1, 1]);
  });
});

describe('overload: request deadline and cancelled clients', () => {
  it('a request past its deadline gets 503 TIMEOUT, and its queued inference never runs', async () => {
    const app = createClipApp({ clip, overload: { requestTimeoutMs: 300 } });
    gate.hold();
    const before = gate.runs.length;
    const a = classify(app);
    await gate.started(before + 1); // a's run holds the session
    const b = await classify(app); // queued behind a, then times out
    expect(b.status).toBe(503);
    expect(b.headers.get('retry-after')).toBe('1');
    const err = await errorOf(b);
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toMatch(/within 300 ms/);
    gate.release();
    expect((await a).status).toBe(503); // a timed out too while held, but its run had started
    await new Promise((r) => setTimeout(r, 50));
    expect(gate.runs.slice(before)).toEqual([1]); // b's image never reached the session
  });

  it('a client that goes away has its queued inference dropped', async () => {
    const app = createClipApp({ clip, overload: { requestTimeoutMs: 0 } });
    gate.hold();
    const before = gate.runs.length;
    const a = classify(app);
    await gate.started(before + 1);
    const ctl = new AbortController();
    const b = classify(app, { signal: ctl.signal });
    await new Promise((r) => setTimeout(r, 20)); // b reaches the queue
    ctl.abort();
    const rb = await b;
    expect(rb.status).toBe(499);
    expect((await errorOf(rb)).code).toBe('CANCELLED');
    gate.release();
    expect((await a).status).toBe(200);
    expect(gate.runs.slice(before)).toEqual([1]);
  });
});

describe('overload: every admission released exactly once', () => {
  const gauge = async (app: ReturnType<typeof createClipApp>) =>
    (await (await app.request('/v1/load')).json()) as { inFlight: number; admitted: number; released: number; abandoned: number };

  it('a run that outlives its deadline keeps its slot until the backstop, which releases it once and reports it; the run ending later releases nothing more', async () => {
    const reported: unknown[] = [];
    const app = createClipApp({ clip, overload: { maxInFlight: 1, requestTimeoutMs: 2000, abandonAfterMs: 1500, onAbandoned: (e) => reported.push(e) } });
    gate.hold();
    const before = gate.runs.length;
    const a = classify(app);
    await gate.started(before + 1); // a's run is held: it cannot be interrupted and ignores the signal
    expect((await a).status).toBe(503); // TIMEOUT answered at 2 s (time enough for the run to start on a loaded machine)
    expect(await gauge(app)).toMatchObject({ inFlight: 1, abandoned: 0 }); // still at work: the slot stays taken
    expect((await errorOf(await classify(app))).code).toBe('OVERLOADED');
    const t0 = Date.now();
    while ((await gauge(app)).abandoned === 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
    expect(await gauge(app)).toMatchObject({ inFlight: 0, abandoned: 1 });
    expect(reported).toHaveLength(1);
    expect(String((reported[0] as Error).message)).toMatch(/had not ended 1500 ms after it was aborted/);
    gate.release();
    await gate.started(before + 1);
    await new Promise((r) => setTimeout(r, 200)); // a's held run ends now
    const g = await gauge(app);
    expect(g.released).toBe(g.admitted); // the late end of a's work did not release a second time
    expect(g.inFlight).toBe(0);
    expect((await classify(app)).status).toBe(200);
  });
});

describe('overload: rate limiting', () => {
  it('per API key: 401 comes first, then 429 RATE_LIMITED with Retry-After once the key is spent', async () => {
    const app = createClipApp({ clip, apiKey: 'k-1', overload: { rateLimiter: tokenBucketRateLimiter({ requests: 2, perSeconds: 60 }) } });
    const auth = { authorization: 'Bearer k-1' };
    expect((await app.request('/v1/models', { headers: auth })).status).toBe(200);
    expect((await classify(app, { headers: auth })).status).toBe(200);
    const limited = await app.request('/v1/models', { headers: auth });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('30');
    expect((await errorOf(limited)).code).toBe('RATE_LIMITED');
    // Wrong keys never reach (or spend) a bucket.
    expect((await app.request('/v1/models', { headers: { authorization: 'Bearer other' } })).status).toBe(401);
    expect((await app.request('/healthz')).status).toBe(200);
  });

  it('without API keys, per client as the runtime identifies it', async () => {
    const app = createClipApp({
      clip,
      overload: { rateLimiter: tokenBucketRateLimiter({ requests: 1, perSeconds: 10 }), clientKey: (c) => c.req.header('x-test-client') },
    });
    const as = (who: string) => app.request('/v1/models', { headers: { 'x-test-client': who } });
    expect((await as('a')).status).toBe(200);
    expect((await as('a')).status).toBe(429);
    expect((await as('b')).status).toBe(200);
  });

  it('token bucket: refills continuously, says when to retry, and forgets the oldest keys beyond maxKeys', () => {
    let t = 0;
    const rl = tokenBucketRateLimiter({ requests: 3, perSeconds: 60, maxKeys: 2, now: () => t });
    expect([rl.limit('x'), rl.limit('x'), rl.limit('x')]).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(rl.limit('x')).toEqual({ ok: false, retryAfterSeconds: 20 });
    t += 20_000;
    expect(rl.limit('x')).toEqual({ ok: true });
    expect(rl.limit('x')).toMatchObject({ ok: false });
    rl.limit('y');
    rl.limit('z'); // x is forgotten: a full bucket again
    expect(rl.limit('x')).toEqual({ ok: true });
    expect(() => tokenBucketRateLimiter({ requests: 0 })).toThrow(/≥ 1/);
  });
});
