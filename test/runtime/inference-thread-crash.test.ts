// A crashed inference thread (src/runtime/fs/inference-thread.ts): the calls it had fail with 503
// BACKEND_UNAVAILABLE, the next call starts a new thread whose sessions are re-created from the
// same model files (the same embeddings as before the crash), crashes are reported, and after
// `maxCrashes` in the window it stays down with a clear error. The crash is real: the thread is
// terminated while it holds a run (what a native abort or an out-of-memory does to it).
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { threadedNodeBackends } from '../../src/runtime/fs/inference-thread.ts';
import { restartPolicy } from '../../src/runtime/fs/restart-policy.ts';
import { serveNode } from '../../src/runtime/node/serve.ts';
import { createClipApp } from '../../src/http/app.ts';
import { DEFAULT_BACKEND_RETRY_AFTER_SECONDS } from '../../src/http/errors.ts';
import { REPO_ROOT } from '../helpers/clip.ts';
import { slowVisionFolder } from '../helpers/slow-vision.ts';

const photo = (name: string) => new Uint8Array(readFileSync(path.join(REPO_ROOT, 'test/fixtures/pil/inputs', name)));
const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/**
 * Watches the inference thread's messages: `armed` terminates the thread right after it is sent a
 * run (the run is then in flight), and `threads` lists every inference thread started.
 */
function crashOnRun() {
  const state = { armed: 0, threads: new Set<Worker>(), runs: 0 };
  const original = Worker.prototype.postMessage;
  const spy = vi.spyOn(Worker.prototype, 'postMessage').mockImplementation(function (this: Worker, msg: unknown, transfer?: Parameters<Worker['postMessage']>[1]) {
    original.call(this, msg, transfer);
    const op = (msg as { op?: string } | null)?.op;
    if (op === undefined || op === 'chunk') return;
    state.threads.add(this);
    if (op !== 'run') return;
    state.runs++;
    if (state.armed > 0) {
      state.armed--;
      void this.terminate();
    }
  });
  return { state, restore: () => spy.mockRestore() };
}

const folder = slowVisionFolder(2);
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('inference thread: crashes', () => {
  let watch: ReturnType<typeof crashOnRun>;
  beforeEach(() => (watch = crashOnRun()));
  afterEach(() => watch.restore());

  it('fails the call in flight with 503 BACKEND_UNAVAILABLE, then restarts the thread and re-creates the session from its file', async () => {
    const lines: string[] = [];
    const backends = threadedNodeBackends({ restarts: { backoffMs: 20 }, log: (l) => lines.push(l) });
    const kit = await createNodeClipEdge({ model: folder, backends, backend: 'wasm', text: false, decodeThreads: 0 });
    try {
      const before = await kit.core.embedImage(photo('baseline-420.jpg'));
      watch.state.armed = 1;
      await expect(kit.core.embedImage(photo('baseline-420.jpg'))).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', message: expect.stringContaining('the inference thread crashed') });
      expect(lines).toEqual([expect.stringMatching(/inference thread crashed \(exit code 1\); 1 call\(s\) failed with 503; restarting it on the next call, after 20 ms \(crash 1 of 5 allowed in 60 s\)/)]);
      // The next call gets a new thread, and the tower's session is made again from the same file.
      const after = await kit.core.embedImage(photo('baseline-420.jpg'));
      expect(watch.state.threads.size).toBe(2);
      expect(same(after.embedding, before.embedding)).toBe(true);
      // And keeps working.
      expect(same((await kit.core.embedImage(photo('baseline-420.jpg'))).embedding, before.embedding)).toBe(true);
      expect(watch.state.threads.size).toBe(2);
    } finally {
      await kit.core.close();
    }
  }, 60_000);

  it('after maxCrashes in the window it stays down: later calls fail at once with a clear error, and no thread is started', async () => {
    const lines: string[] = [];
    const backends = threadedNodeBackends({ restarts: { maxCrashes: 2, backoffMs: 10 }, log: (l) => lines.push(l) });
    const kit = await createNodeClipEdge({ model: folder, backends, backend: 'wasm', text: false, decodeThreads: 0 });
    try {
      await kit.core.embedImage(photo('rgb8.png'));
      watch.state.armed = 2;
      await expect(kit.core.embedImage(photo('rgb8.png'))).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      await expect(kit.core.embedImage(photo('rgb8.png'))).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', message: expect.stringContaining('the inference thread crashed') });
      expect(watch.state.threads.size).toBe(2);
      expect(lines[1]).toMatch(/crashed \(exit code 1\), 2 times in 60 s: not restarted again/);
      const runs = watch.state.runs;
      await expect(kit.core.embedImage(photo('rgb8.png'))).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(/crashed 2 times in 60 s .*not restarted again: restart the process/) });
      expect({ threads: watch.state.threads.size, runs: watch.state.runs }).toEqual({ threads: 2, runs });
    } finally {
      await kit.core.close();
    }
  }, 60_000);

  it('close() during the back-off after a crash: the call waiting for the restart fails at once, and no thread is started', async () => {
    // A back-off far longer than the test's timeout: the waiting call must not sit out the timer
    // (nor the timer hold the process) once the kit is closed.
    const backends = threadedNodeBackends({ restarts: { backoffMs: 600_000, maxBackoffMs: 600_000 }, log: () => {} });
    const kit = await createNodeClipEdge({ model: folder, backends, backend: 'wasm', text: false, decodeThreads: 0 });
    await kit.core.embedImage(photo('rgb8.png'));
    watch.state.armed = 1;
    await expect(kit.core.embedImage(photo('rgb8.png'))).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    const waiting = kit.core.embedImage(photo('rgb8.png'));
    waiting.catch(() => {});
    await new Promise((r) => setTimeout(r, 50)); // the call is now waiting out the back-off
    await kit.core.close();
    await expect(waiting).rejects.toMatchObject({ message: expect.stringContaining('closed') });
    expect(watch.state.threads.size).toBe(1);
  }, 20_000);

  it('once it stays down, /healthz answers 503 BACKEND_UNAVAILABLE (a liveness probe restarts the process, as the error asks)', async () => {
    const backends = threadedNodeBackends({ restarts: { maxCrashes: 1 }, log: () => {} });
    const kit = await createNodeClipEdge({ model: folder, backends, backend: 'wasm', text: false, decodeThreads: 0 });
    const app = createClipApp({ clip: kit, apiKey: 'k' });
    try {
      await kit.core.embedImage(photo('rgb8.png'));
      expect((await app.request('/healthz')).status).toBe(200);
      watch.state.armed = 1;
      await expect(kit.core.embedImage(photo('rgb8.png'))).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      const health = await app.request('/healthz'); // no API key: a probe has none
      expect(health.status).toBe(503);
      // No back-off to wait for: it needs a process restart, which a supervisor does in seconds.
      expect(health.headers.get('retry-after')).toBe(String(DEFAULT_BACKEND_RETRY_AFTER_SECONDS));
      expect(((await health.json()) as { error: { code: string } }).error.code).toBe('BACKEND_UNAVAILABLE'); // its details stay in the log, as for any 503 of the backend
      // Status says so too: down, and the tower's session gone.
      expect(kit.core.status()).toMatchObject({ backendState: 'down', active: { vision: { loaded: false } } });
      expect(kit.core.status().restartInMs).toBeUndefined();
    } finally {
      await kit.core.close();
    }
  }, 60_000);

  it('a crash it restarts from keeps /healthz at 200, saying it is restarting until the next call has started a new thread', async () => {
    const backends = threadedNodeBackends({ restarts: { backoffMs: 10 }, log: () => {} });
    const kit = await createNodeClipEdge({ model: folder, backends, backend: 'wasm', text: false, decodeThreads: 0 });
    const app = createClipApp({ clip: kit });
    try {
      await kit.core.embedImage(photo('rgb8.png'));
      expect(kit.core.status()).toMatchObject({ backendState: 'ready', active: { vision: { loaded: true } } });
      watch.state.armed = 1;
      await expect(kit.core.embedImage(photo('rgb8.png'))).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      const health = await app.request('/healthz');
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'restarting', restartInMs: expect.any(Number) });
      // Nothing restarts until a call comes (however long after the 10 ms back-off): the state stays.
      expect(kit.core.status()).toMatchObject({ backendState: 'restarting', active: { vision: { loaded: false } } });
      await kit.core.embedImage(photo('rgb8.png'));
      expect(kit.core.status()).toMatchObject({ backendState: 'ready', active: { vision: { loaded: true } } });
      expect(await (await app.request('/healthz')).json()).toEqual({ status: 'ok' });
    } finally {
      await kit.core.close();
    }
  }, 60_000);

  it("503 BACKEND_UNAVAILABLE says when to retry: Retry-After is the crash's back-off, in whole seconds", async () => {
    const backends = threadedNodeBackends({ restarts: { backoffMs: 2_500 }, log: () => {} });
    const kit = await createNodeClipEdge({ model: folder, backends, backend: 'wasm', text: false, decodeThreads: 0 });
    const app = createClipApp({ clip: kit });
    const post = () => app.request('/v1/embed/image', { method: 'POST', headers: { 'content-type': 'image/png' }, body: photo('rgb8.png') });
    try {
      expect((await post()).status).toBe(200);
      watch.state.armed = 1;
      const failed = await post();
      expect(failed.status).toBe(503);
      expect(failed.headers.get('retry-after')).toBe('3');
      expect(kit.core.status()).toMatchObject({ backendState: 'restarting', restartInMs: expect.any(Number) });
      expect(kit.core.status().restartInMs).toBeLessThanOrEqual(2_500);
    } finally {
      await kit.core.close();
    }
  }, 60_000);

  it('over HTTP: the request in flight gets 503 BACKEND_UNAVAILABLE, /healthz answers, and the next request is served', async () => {
    const server = await serveNode({ port: 0, host: '127.0.0.1', backend: 'wasm', model: folder, text: false, requestLog: false }, { page: false });
    const post = () => fetch(`${server.url}/v1/embed/image`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: photo('baseline-420.jpg') });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect((await post()).status).toBe(200);
      watch.state.armed = 1;
      const failed = await post();
      expect(failed.status).toBe(503);
      expect(((await failed.json()) as { error: { code: string } }).error.code).toBe('BACKEND_UNAVAILABLE');
      expect(failed.headers.get('retry-after')).toBe('1'); // the first back-off, 250 ms, in whole seconds
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      // The default back-off is 250 ms: what is left of it, or 0 once it is over.
      const { restartInMs, ...said } = (await health.json()) as { status: string; restartInMs: number };
      expect(said).toEqual({ status: 'restarting' });
      expect(restartInMs).toBeGreaterThanOrEqual(0);
      expect(restartInMs).toBeLessThanOrEqual(250);
      // /v1/models no longer says the session is loaded: it went with the thread.
      const models = async () => ((await (await fetch(`${server.url}/v1/models`)).json()) as { models: { backendState: string; active: { vision: { loaded: boolean } } }[] }).models[0]!;
      expect(await models()).toMatchObject({ backendState: 'restarting', active: { vision: { loaded: false } } });
      expect(errors.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringContaining('the inference thread crashed')]);
      const ok = await post();
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { embedding: number[] }).embedding).toHaveLength(32);
      expect(await models()).toMatchObject({ backendState: 'ready', active: { vision: { loaded: true } } });
      expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' });
    } finally {
      errors.mockRestore();
      await server.close();
    }
  }, 60_000);
});

describe('restart policy', () => {
  it('doubles the back-off per crash in the window, forgets crashes older than the window, and gives up at maxCrashes', () => {
    let now = 0;
    const p = restartPolicy({ maxCrashes: 4, windowMs: 1000, backoffMs: 100, maxBackoffMs: 300 }, () => now);
    expect(p.crashed()).toEqual({ crashes: 1, giveUp: false, delayMs: 100 });
    now = 10;
    expect(p.crashed()).toEqual({ crashes: 2, giveUp: false, delayMs: 200 });
    now = 20;
    expect(p.crashed()).toEqual({ crashes: 3, giveUp: false, delayMs: 300 }); // capped
    now = 1005; // the first crash (at 0) is out of the window
    expect(p.crashed()).toEqual({ crashes: 3, giveUp: false, delayMs: 300 });
    now = 1006;
    expect(p.crashed()).toEqual({ crashes: 4, giveUp: true, delayMs: 0 });
  });

  it('counts the crash that just happened, whatever the window (windowMs 0: every crash is the first, never half a back-off)', () => {
    let now = 0;
    const p = restartPolicy({ windowMs: 0, backoffMs: 100 }, () => now);
    expect(p.crashed()).toEqual({ crashes: 1, giveUp: false, delayMs: 100 });
    now = 5;
    expect(p.crashed()).toEqual({ crashes: 1, giveUp: false, delayMs: 100 });
    expect(restartPolicy({ windowMs: 0, maxCrashes: 1 }, () => now).crashed()).toEqual({ crashes: 1, giveUp: true, delayMs: 0 });
  });

  it('refuses bad settings with BAD_INPUT', () => {
    expect(() => restartPolicy({ maxCrashes: 0 })).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringContaining('maxCrashes must be a positive integer') }));
    expect(() => restartPolicy({ backoffMs: -1 })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
  });
});
