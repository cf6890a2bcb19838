import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClipApp } from '../../src/http/app.ts';
import { parseApiKeys } from '../../src/http/auth.ts';
import type { ClipEdge } from '../../src/core/clip.ts';
import { configFromEnv } from '../../src/http/config.ts';
import { ClipEdgeError } from '../../src/core/errors.ts';
import { tokenBucketRateLimiter } from '../../src/http/overload.ts';
import { EVAL_DIR, sharedClip } from '../helpers/clip.ts';
import { formWith } from '../contract/bad-inputs.ts';

// hono's constant-time compare, counted: every configured key must be compared on every request.
const compares = vi.hoisted(() => ({ n: 0 }));
vi.mock('hono/utils/buffer', async (importOriginal) => {
  const orig = await importOriginal<typeof import('hono/utils/buffer')>();
  return {
    ...orig,
    timingSafeEqual: (a: string, b: string) => {
      compares.n++;
      return orig.timingSafeEqual(a, b);
    },
  };
});

const JPEG = new Uint8Array(readFileSync(path.join(EVAL_DIR, 'images/red_circle_01.jpg')));
let clip: ClipEdge;
beforeAll(async () => {
  clip = await sharedClip();
});

/** Concrete paths for every route the app registers (parameters filled in). */
function routesOf(app: ReturnType<typeof createClipApp>): { method: string; path: string }[] {
  const seen = new Set<string>();
  return app.routes
    .filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
    .map((r) => ({ method: r.method, path: r.path.replace(/:[^/]+/g, 'x') }))
    .filter((r) => !seen.has(`${r.method} ${r.path}`) && seen.add(`${r.method} ${r.path}`));
}

describe('bearer auth', () => {
  const PUBLIC = ['/healthz'];
  const keys = ['key-one-0123456789', 'key-two-abcdefghij'];
  let app: ReturnType<typeof createClipApp>;
  beforeAll(() => {
    app = createClipApp({ clip, apiKey: keys });
  });

  it('every route but /healthz answers 401 without a key, with a wrong one, and with a prefix of a real one', async () => {
    const routes = routesOf(app);
    expect(routes.length).toBeGreaterThanOrEqual(8);
    for (const r of routes) {
      const send = (headers: Record<string, string>) =>
        app.request(r.path, { method: r.method, headers: { 'content-type': 'image/jpeg', ...headers }, ...(r.method === 'POST' ? { body: JPEG as Uint8Array<ArrayBuffer> } : {}) });
      if (PUBLIC.includes(r.path)) {
        expect((await send({})).status, r.path).toBe(200);
        continue;
      }
      for (const headers of [{} as Record<string, string>, { authorization: 'Bearer nope' }, { authorization: `Bearer ${keys[0]!.slice(0, -1)}` }, { authorization: `Basic ${keys[0]}` }, { authorization: 'Bearer' }]) {
        const res = await send(headers);
        expect(res.status, `${r.method} ${r.path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
      expect((await send({ authorization: `Bearer ${keys[1]}` })).status, r.path).not.toBe(401);
    }
  });

  it('compares the token with every key in constant time, whichever matches (no early exit)', async () => {
    for (const token of [keys[0]!, keys[1]!, 'wrong', '']) {
      compares.n = 0;
      await app.request('/v1/models', { headers: { authorization: `Bearer ${token}` } });
      expect(compares.n, token).toBe(keys.length);
    }
  });

  it('CLIP_EDGE_API_KEY takes several comma-separated keys', () => {
    expect(parseApiKeys(' a , b,,c ')).toEqual(['a', 'b', 'c']);
    expect(configFromEnv({ CLIP_EDGE_API_KEY: 'k1,k2' }).apiKey).toEqual(['k1', 'k2']);
    expect(configFromEnv({ CLIP_EDGE_API_KEY: 'k1' }).apiKey).toBe('k1');
    expect(configFromEnv({ CLIP_EDGE_API_KEY: ' , ' }).apiKey).toBeUndefined();
  });

  it('rate limits count per API key', async () => {
    const limited = createClipApp({ clip, apiKey: keys, overload: { rateLimiter: tokenBucketRateLimiter({ requests: 1, perSeconds: 60 }) } });
    const as = (k: string) => limited.request('/v1/models', { headers: { authorization: `Bearer ${k}` } });
    expect((await as(keys[0]!)).status).toBe(200);
    expect((await as(keys[0]!)).status).toBe(429);
    expect((await as(keys[1]!)).status).toBe(200);
  });
});

describe('errors never leak paths or stacks', () => {
  const secret = '/srv/secret/models/x/onnx/vision_model.onnx';
  const failing = (err: unknown): ClipEdge => ({ ...clip, classify: async () => Promise.reject(err), status: () => { throw err; } }) as ClipEdge;

  it.each([
    ['a plain Error naming a path', new Error(`EACCES: permission denied, open '${secret}'`), 'INTERNAL'],
    ['a TypeError with a stack', new TypeError(`Cannot read properties of undefined (reading 'x') at ${secret}:1:2`), 'INTERNAL'],
    ['a model error naming the file', new ClipEdgeError('MODEL_INVALID', `${secret} could not be loaded`), 'MODEL_INVALID'],
    ['an integrity error', new ClipEdgeError('INTEGRITY_MISMATCH', `${secret} has sha256 abc, the manifest says def`), 'INTEGRITY_MISMATCH'],
  ])('%s → 500 with the code only; the operator gets the details', async (_, err, code) => {
    const logged: unknown[] = [];
    const app = createClipApp({ clip: failing(err), onInternalError: (e) => logged.push(e) });
    for (const res of [
      await app.request('/v1/classify?labels=a,b', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: JPEG as Uint8Array<ArrayBuffer> }),
      await app.request('/v1/models'),
    ]) {
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(text).not.toMatch(/\/srv|secret|vision_model|at .*:\d+|EACCES|TypeError/);
      expect(JSON.parse(text)).toEqual({ error: { code, message: code === 'INTERNAL' ? 'internal error' : `the model could not be used (${code})` } });
    }
    expect(logged).toEqual([err, err]);
  });

  it('a model that fails to load on first use: 500 without the path, and the next request retries the load', async () => {
    let calls = 0;
    const app = createClipApp({
      clip: async () => {
        if (calls++ === 0) throw new ClipEdgeError('MODEL_NOT_FOUND', `${secret} is missing`);
        return clip;
      },
      onInternalError: () => {},
    });
    const first = await app.request('/v1/models');
    expect(first.status).toBe(500);
    expect(await first.text()).not.toContain('secret');
    expect((await app.request('/v1/models')).status).toBe(200);
  });
});

describe('no outbound fetch of anything a client sends', () => {
  let server: Server;
  let hits = 0;
  let url = '';
  beforeAll(async () => {
    server = createServer((_, res) => {
      hits++;
      res.end('x');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/image.jpg`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('/openapi.json does not echo the Host header (its one server is ".", relative to the document)', async () => {
    const app = createClipApp({ clip });
    const res = await app.request('http://evil.example/openapi.json', { headers: { host: 'evil.example' } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain('evil.example');
    expect(JSON.parse(text).servers.map((s: { url: string }) => s.url)).toEqual(['.']);
  });

  it('URLs in every parameter and field are treated as text, never fetched', async () => {
    const app = createClipApp({ clip });
    const spy = vi.spyOn(globalThis, 'fetch');
    const u = encodeURIComponent(url);
    const requests: [string, RequestInit][] = [
      [`/v1/classify?labels=${u},b&url=${u}&image=${u}`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: JPEG as Uint8Array<ArrayBuffer> }],
      [`/v1/classify?labelSet=${u}`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: JPEG as Uint8Array<ArrayBuffer> }],
      [`/v1/classify?labels=a,b&templates=${u}%20{}`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: JPEG as Uint8Array<ArrayBuffer> }],
      ['/v1/classify', { method: 'POST', body: formWith({ image: url, labels: 'a,b' }) }],
      ['/v1/classify', { method: 'POST', headers: { 'content-type': 'text/uri-list' }, body: url }],
      ['/v1/embed/image', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new TextEncoder().encode(url) }],
      ['/v1/embed/text', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ texts: [url] }) }],
    ];
    const statuses: number[] = [];
    for (const [path, init] of requests) statuses.push((await app.request(path, init)).status);
    expect(statuses).toEqual([200, 400, 200, 400, 415, 415, 200]);
    expect(spy).not.toHaveBeenCalled();
    expect(hits).toBe(0);
    spy.mockRestore();
  });
});

describe('CORS defaults', () => {
  it('none by default; "*" never allows credentials; preflights pass auth, the request itself does not', async () => {
    const plain = createClipApp({ clip });
    const r = await plain.request('/v1/models', { headers: { origin: 'https://evil.example' } });
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    expect(r.headers.get('access-control-allow-credentials')).toBeNull();

    const open = createClipApp({ clip, corsOrigins: '*', apiKey: 'k' });
    const pre = await open.request('/v1/classify', { method: 'OPTIONS', headers: { origin: 'https://a.example', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBeLessThan(300);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    const noKey = await open.request('/v1/models', { headers: { origin: 'https://a.example' } });
    expect(noKey.status).toBe(401);
  });
});
