import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createWorkersApp } from '../../../src/runtime/workers/app.ts';
import { envWith, populate, repoFile } from './helpers.ts';

// Overload behaviour inside workerd: the same core guard as on Node (per isolate), and Cloudflare's
// Rate Limiting binding (Miniflare's implementation) as the network-wide limiter.
const answers = inject('nodeAnswers');
let JPEG: Uint8Array;
beforeAll(async () => {
  await populate();
  JPEG = await repoFile(answers.images.find((i) => i.file.endsWith('.jpg'))!.file);
});

const classify = (app: ReturnType<typeof createWorkersApp>, headers: Record<string, string> = {}) =>
  app.request('/v1/classify?labelSet=tiny-clip-shapes&topK=1', { method: 'POST', body: JPEG as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'image/jpeg', ...headers } });

describe('overload inside workerd', () => {
  it('RATE_LIMITER bound: 429 RATE_LIMITED with Retry-After (the binding’s period) once the key is spent; keys are separate', async () => {
    const app = createWorkersApp({ ...envWith({ API_KEY: 'w-key-1,w-key-2', CLIP_EDGE_RATE_LIMIT_PERIOD: '60' }), RATE_LIMITER: env.TEST_RATE_LIMITER });
    const as = (k: string) => app.request('/v1/models', { headers: { authorization: `Bearer ${k}` } });
    expect((await as('w-key-1')).status).toBe(200);
    expect((await as('w-key-1')).status).toBe(200);
    const limited = await as('w-key-1');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('60');
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
    expect((await as('w-key-2')).status).toBe(200);
    expect((await as('bad')).status).toBe(401);
  });

  it('without the binding, CLIP_EDGE_RATE_LIMIT counts per isolate and per client address', async () => {
    const app = createWorkersApp(envWith({ CLIP_EDGE_RATE_LIMIT: '1' }));
    const from = (ip: string) => app.request('/v1/models', { headers: { 'cf-connecting-ip': ip } });
    expect((await from('192.0.2.1')).status).toBe(200);
    expect((await from('192.0.2.1')).status).toBe(429);
    expect((await from('192.0.2.2')).status).toBe(200);
  });

  it('CLIP_EDGE_MAX_IN_FLIGHT: a second request while one is at work gets 503 OVERLOADED with Retry-After', async () => {
    const app = createWorkersApp(envWith({ CLIP_EDGE_MAX_IN_FLIGHT: '1' }));
    const [a, b] = await Promise.all([classify(app), classify(app)]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(503);
    expect(b.headers.get('retry-after')).toBe('1');
    expect(((await b.json()) as { error: { code: string } }).error.code).toBe('OVERLOADED');
    expect((await classify(app)).status).toBe(200);
  });

  it('CLIP_EDGE_REQUEST_TIMEOUT_MS and the other new vars are validated', async () => {
    for (const [k, v] of [['CLIP_EDGE_REQUEST_TIMEOUT_MS', '-1'], ['CLIP_EDGE_MAX_IN_FLIGHT', '0'], ['CLIP_EDGE_RATE_LIMIT', 'lots'], ['CLIP_EDGE_RATE_LIMIT_PERIOD', '0']] as const) {
      expect(() => createWorkersApp(envWith({ [k]: v }))).toThrow(k);
    }
  });
});
