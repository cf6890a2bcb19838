import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClipApp } from '../../src/http/app.ts';
import { tokenBucketRateLimiter } from '../../src/http/overload.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { createMemoryIndex } from '../../src/search/drivers/memory.ts';
import { formWith } from '../contract/bad-inputs.ts';
import { EVAL_DIR, type EvalSet, sharedClip } from '../helpers/clip.ts';

// Every route's real answers — 2xx and errors, produced by the real app on the real model — must
// validate against the document the app serves at /openapi.json (generated from the zod route
// schemas), and every status a route answers with must be documented for it.

const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
const fileOf = (ext: string) => new Uint8Array(readFileSync(path.join(EVAL_DIR, evalSet.images.find((i) => i.file.endsWith(ext))!.file)));
const JPEG = fileOf('.jpg');

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> };
type App = ReturnType<typeof createClipApp>;
interface Case {
  name: string;
  route: `${'GET' | 'POST' | 'DELETE'} ${string}`;
  send: () => Response | Promise<Response>;
  status: number;
}

let doc: Doc;
let ajv: Ajv2020;
const seen = new Map<string, Set<number>>();

function responseValidator(route: string, status: number): ValidateFunction {
  const [method, p] = route.split(' ') as [string, string];
  const op = doc.paths[p]?.[method.toLowerCase()];
  expect(op, `${route} is in the document`).toBeDefined();
  expect(Object.keys(op!.responses), `${route} documents ${status}`).toContain(String(status));
  const pointer = ['paths', p, method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema']
    .map((s) => s.replaceAll('~', '~0').replaceAll('/', '~1'))
    .join('/');
  return ajv.getSchema(`openapi#/${pointer}`)!;
}

async function check(c: Case): Promise<void> {
  const r = await c.send();
  const body: unknown = await r.json();
  expect(r.status, `${c.name}: ${JSON.stringify(body).slice(0, 300)}`).toBe(c.status);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  const validate = responseValidator(c.route, r.status);
  expect(validate, `${c.route} ${r.status} has a JSON schema`).toBeTypeOf('function');
  const ok = validate(body);
  expect(ok, `${c.name}: ${JSON.stringify(validate.errors)}`).toBe(true);
  seen.set(c.route, (seen.get(c.route) ?? new Set()).add(r.status));
}

let app: App;
let keyed: App;
let limited: App;
let visionOnly: App;
let broken: App;
let noBackend: App;
let search: App;
let otherIndex: App;
beforeAll(async () => {
  const clip = await sharedClip();
  app = createClipApp({ clip, maxBodyBytes: 200_000 });
  keyed = createClipApp({ clip, apiKey: 'k' });
  limited = createClipApp({ clip, overload: { rateLimiter: tokenBucketRateLimiter({ requests: 1 }) } });
  visionOnly = createClipApp({ clip: await createNodeClipEdge({ backend: 'wasm', text: false }) });
  // A model folder whose manifest is broken: the real MODEL_INVALID path (500, message without paths).
  const dir = mkdtempSync(path.join(tmpdir(), 'clip-edge-openapi-'));
  writeFileSync(path.join(dir, 'manifest.json'), '{ not json');
  broken = createClipApp({ clip: () => createNodeClipEdge({ model: dir, backend: 'wasm' }), onInternalError: () => {} });
  noBackend = createClipApp({ clip: () => createNodeClipEdge({ backend: 'webgpu' }), onInternalError: () => {} });
  search = createClipApp({ clip, index: await createMemoryIndex({ model: clip.info.id, dim: clip.info.embedDim, fields: { label: 'string' } }) });
  otherIndex = createClipApp({ clip, index: await createMemoryIndex({ model: 'another-model', dim: 512 }) });
  doc = (await (await app.request('/openapi.json')).json()) as Doc;
  ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ ...doc, $id: 'openapi' });
}, 120_000);

const post = (a: () => App, url: string, body: BodyInit | Uint8Array, type?: string, init: RequestInit = {}) => () =>
  a().request(url, { method: 'POST', body: body as BodyInit, headers: type ? { 'content-type': type } : {}, ...init });
const get = (a: () => App, url: string, headers: Record<string, string> = {}) => () => a().request(url, { headers });
const cancelled = () => {
  const ac = new AbortController();
  ac.abort();
  return { signal: ac.signal };
};

const CASES: Case[] = [
  { name: 'health', route: 'GET /healthz', send: get(() => app, '/healthz'), status: 200 },
  { name: 'models', route: 'GET /v1/models', send: get(() => app, '/v1/models'), status: 200 },
  { name: 'models without the API key', route: 'GET /v1/models', send: get(() => keyed, '/v1/models'), status: 401 },
  { name: 'models, broken model folder', route: 'GET /v1/models', send: get(() => broken, '/v1/models'), status: 500 },
  { name: 'models, no backend starts', route: 'GET /v1/models', send: get(() => noBackend, '/v1/models'), status: 503 },
  { name: 'load gauge', route: 'GET /v1/load', send: get(() => app, '/v1/load'), status: 200 },
  { name: 'load gauge without the API key', route: 'GET /v1/load', send: get(() => keyed, '/v1/load'), status: 401 },
  { name: 'label sets', route: 'GET /v1/label-sets', send: get(() => app, '/v1/label-sets'), status: 200 },
  { name: 'label sets, wrong API key', route: 'GET /v1/label-sets', send: get(() => keyed, '/v1/label-sets', { authorization: 'Bearer nope' }), status: 401 },
  { name: 'classify, inline labels', route: 'POST /v1/classify', send: post(() => app, '/v1/classify?labels=red%20circle,blue%20star&topK=2', JPEG, 'image/jpeg'), status: 200 },
  {
    name: 'classify, multipart with a label set',
    route: 'POST /v1/classify',
    send: post(() => app, '/v1/classify', formWith({ image: new Blob([JPEG as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }), labelSet: 'tiny-clip-shapes', topK: '3' })),
    status: 200,
  },
  { name: 'classify, vision only, cached set', route: 'POST /v1/classify', send: post(() => visionOnly, '/v1/classify?labelSet=tiny-clip-shapes', JPEG, 'image/jpeg'), status: 200 },
  { name: 'classify, bad topK', route: 'POST /v1/classify', send: post(() => app, '/v1/classify?labels=a,b&topK=ten', JPEG, 'image/jpeg'), status: 400 },
  { name: 'classify, corrupt image', route: 'POST /v1/classify', send: post(() => app, '/v1/classify?labels=a,b', JPEG.slice(0, 300), 'image/jpeg'), status: 400 },
  { name: 'classify, unknown label set', route: 'POST /v1/classify', send: post(() => app, '/v1/classify?labelSet=nope', JPEG, 'image/jpeg'), status: 404 },
  { name: 'classify, body over the limit', route: 'POST /v1/classify', send: post(() => app, '/v1/classify?labels=a,b', new Uint8Array(200_001), 'image/jpeg'), status: 413 },
  { name: 'classify, text/plain', route: 'POST /v1/classify', send: post(() => app, '/v1/classify?labels=a,b', JPEG, 'text/plain'), status: 415 },
  { name: 'classify, vision only, inline labels', route: 'POST /v1/classify', send: post(() => visionOnly, '/v1/classify?labels=x,y', JPEG, 'image/jpeg'), status: 422 },
  { name: 'classify, client went away', route: 'POST /v1/classify', send: post(() => app, '/v1/classify?labels=a,b', JPEG, 'image/jpeg', cancelled()), status: 499 },
  { name: 'classify, no backend starts', route: 'POST /v1/classify', send: post(() => noBackend, '/v1/classify?labels=a,b', JPEG, 'image/jpeg'), status: 503 },
  { name: 'embed image', route: 'POST /v1/embed/image', send: post(() => app, '/v1/embed/image', JPEG, 'image/jpeg'), status: 200 },
  { name: 'embed image, empty body', route: 'POST /v1/embed/image', send: post(() => app, '/v1/embed/image', new Uint8Array(0), 'image/jpeg'), status: 400 },
  { name: 'embed image, GIF', route: 'POST /v1/embed/image', send: post(() => app, '/v1/embed/image', new TextEncoder().encode('GIF89a\x01\x00\x01\x00'), 'image/gif'), status: 415 },
  { name: 'embed image, broken model folder', route: 'POST /v1/embed/image', send: post(() => broken, '/v1/embed/image', JPEG, 'image/jpeg'), status: 500 },
  { name: 'embed text', route: 'POST /v1/embed/text', send: post(() => app, '/v1/embed/text', JSON.stringify({ texts: ['a red circle', 'a blue star'] }), 'application/json'), status: 200 },
  { name: 'embed text, empty list', route: 'POST /v1/embed/text', send: post(() => app, '/v1/embed/text', JSON.stringify({ texts: [] }), 'application/json'), status: 400 },
  { name: 'embed text, form data', route: 'POST /v1/embed/text', send: post(() => app, '/v1/embed/text', 'texts=a', 'application/x-www-form-urlencoded'), status: 415 },
  { name: 'embed text, vision only', route: 'POST /v1/embed/text', send: post(() => visionOnly, '/v1/embed/text', JSON.stringify({ texts: ['a'] }), 'application/json'), status: 422 },
  { name: 'index an image', route: 'POST /v1/index', send: post(() => search, '/v1/index?id=one&metadata=%7B%22label%22%3A%22x%22%7D', JPEG, 'image/jpeg'), status: 200 },
  { name: 'index, corrupt image', route: 'POST /v1/index', send: post(() => search, '/v1/index', JPEG.slice(0, 300), 'image/jpeg'), status: 400 },
  { name: 'index, no index configured', route: 'POST /v1/index', send: post(() => app, '/v1/index', JPEG, 'image/jpeg'), status: 404 },
  { name: 'index, another model\'s index', route: 'POST /v1/index', send: post(() => otherIndex, '/v1/index', JPEG, 'image/jpeg'), status: 409 },
  { name: 'search by text', route: 'POST /v1/search', send: post(() => search, '/v1/search', JSON.stringify({ text: 'a red circle', topK: 3 }), 'application/json'), status: 200 },
  { name: 'search by image', route: 'POST /v1/search', send: post(() => search, '/v1/search?topK=1', JPEG, 'image/jpeg'), status: 200 },
  { name: 'search, unknown filter field', route: 'POST /v1/search', send: post(() => search, '/v1/search', JSON.stringify({ text: 'a', filter: { colour: 'red' } }), 'application/json'), status: 400 },
  { name: 'search, text/plain', route: 'POST /v1/search', send: post(() => search, '/v1/search', 'a red circle', 'text/plain'), status: 415 },
  { name: 'search, vision only', route: 'POST /v1/search', send: post(() => visionOnly, '/v1/search', JSON.stringify({ text: 'a' }), 'application/json'), status: 404 },
  { name: 'delete from the index', route: 'DELETE /v1/index/{id}', send: () => search.request('/v1/index/one', { method: 'DELETE' }), status: 200 },
  { name: 'delete, not there', route: 'DELETE /v1/index/{id}', send: () => search.request('/v1/index/one', { method: 'DELETE' }), status: 404 },
];

describe('OpenAPI document vs real responses', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    await check(c);
  });

  it('the validators are strict enough to fail: a result without results, an error without a code', () => {
    const ok = responseValidator('POST /v1/classify', 200);
    const { results: _, ...withoutResults } = { model: 'm', variant: { vision: 'fp32' }, backend: 'wasm', results: [], classes: { count: 1, source: 'memory' }, image: { width: 1, height: 1, decode: 'exact' }, timings: { decodeMs: 0, preprocessMs: 0, inferenceMs: 0, totalMs: 0 } };
    expect(ok(withoutResults)).toBe(false);
    expect(ok({ ...withoutResults, results: [{ label: 'a', score: 2, logit: 1 }] })).toBe(false); // a probability above 1
    expect(responseValidator('POST /v1/classify', 400)({ error: { message: 'x' } })).toBe(false);
  });

  it('rate limiting: the 429 validates', async () => {
    const send = get(() => limited, '/v1/models');
    await check({ name: 'first', route: 'GET /v1/models', send, status: 200 });
    await check({ name: 'second, over the limit', route: 'GET /v1/models', send, status: 429 });
  });

  it('covers every documented route with a 2xx and at least one error, and documents Retry-After on shed responses', () => {
    const routes = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(routes.sort()).toEqual([...new Set(CASES.map((c) => c.route))].sort());
    for (const r of routes) {
      const statuses = [...(seen.get(r) ?? [])];
      expect(statuses.some((s) => s < 300), r).toBe(true);
      if (r !== 'GET /healthz') expect(statuses.some((s) => s >= 400), r).toBe(true);
    }
    const classify = doc.paths['/v1/classify']!.post!.responses as Record<string, { headers?: Record<string, unknown> }>;
    expect(Object.keys(classify['429']!.headers ?? {})).toContain('Retry-After');
    expect(Object.keys(classify['503']!.headers ?? {})).toContain('Retry-After');
    // /healthz's only error is 503 BACKEND_UNAVAILABLE, which carries it too.
    const health = doc.paths['/healthz']!.get!.responses as Record<string, { headers?: Record<string, unknown> }>;
    expect(Object.keys(health['503']!.headers ?? {})).toContain('Retry-After');
  });
});
