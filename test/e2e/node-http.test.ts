import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveNode, type RunningServer } from '../../src/runtime/node/serve.ts';
import { EVAL_DIR, type EvalSet } from '../helpers/clip.ts';

const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
/** PyTorch's top-1 per eval image (the recipe's fp32 checkpoint, PIL preprocessing, the eval templates). */
const torchTop1 = (JSON.parse(readFileSync(path.join(EVAL_DIR, 'torch-reference.json'), 'utf8')) as { torch_top1: Record<string, string> }).torch_top1;
const item = evalSet.images.find((i) => i.file.endsWith('.jpg') && torchTop1[i.file] === i.label)!;
const bytes = readFileSync(path.join(EVAL_DIR, item.file));

let server: RunningServer;
beforeAll(async () => {
  server = await serveNode({ port: 0, host: '127.0.0.1', backend: 'wasm', apiKey: 'test-key' });
});
afterAll(() => server?.close());

const auth = { authorization: 'Bearer test-key' };

describe('Node server over real HTTP on 127.0.0.1', () => {
  it('a port in use fails the start with EADDRINUSE (never an unhandled error event, never a promise left pending)', async () => {
    const port = Number(new URL(server.url).port);
    await expect(serveNode({ port, host: '127.0.0.1', backend: 'wasm', requestLog: false }, { page: false })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // The first server is unaffected.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }, 60_000);

  it('listens on loopback and answers /healthz without a key', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await fetch(`${server.url}/healthz`);
    expect(await r.json()).toEqual({ status: 'ok' });
  });

  it('classifies a fixture image (raw body) with the bundled model', async () => {
    const r = await fetch(`${server.url}/v1/classify?${new URLSearchParams({ labels: evalSet.labels.join(','), topK: '3' })}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'image/jpeg' },
      body: bytes,
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { results: { label: string; score: number }[]; backend: string };
    expect(body.results).toHaveLength(3);
    expect(body.results[0]!.label).toBe(torchTop1[item.file]);
    expect(body.backend).toBe('wasm');
  });

  it('classifies as multipart/form-data', async () => {
    const form = new FormData();
    form.append('image', new Blob([bytes], { type: 'image/jpeg' }), 'x.jpg');
    form.append('labelSet', 'cifar10');
    const r = await fetch(`${server.url}/v1/classify`, { method: 'POST', headers: auth, body: form });
    expect(r.status).toBe(200);
  });

  it('refuses a body over the limit while streaming, and keeps serving', async () => {
    const big = new Uint8Array(11 * 1024 * 1024);
    const r = await fetch(`${server.url}/v1/embed/image`, { method: 'POST', headers: { ...auth, 'content-type': 'image/jpeg' }, body: big });
    expect(r.status).toBe(413);
    const again = await fetch(`${server.url}/v1/models`, { headers: auth });
    expect(again.status).toBe(200);
  });

  it('handles concurrent requests (micro-batched) with identical answers to sequential ones', async () => {
    const one = () =>
      fetch(`${server.url}/v1/embed/image`, { method: 'POST', headers: { ...auth, 'content-type': 'image/jpeg' }, body: bytes }).then(
        (r) => r.json() as Promise<{ embedding: number[] }>,
      );
    const seq = await one();
    const par = await Promise.all(Array.from({ length: 6 }, one));
    for (const p of par) p.embedding.forEach((v, i) => expect(v).toBeCloseTo(seq.embedding[i]!, 5));
  });
});
