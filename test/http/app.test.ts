import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClipApp } from '../../src/http/app.ts';
import type { ClipEdge } from '../../src/core/clip.ts';
import { EVAL_DIR, sharedClip } from '../helpers/clip.ts';
import { formWith, testBadInputs } from '../contract/bad-inputs.ts';

const image = (f: string) => new Uint8Array(readFileSync(path.join(EVAL_DIR, 'images', f)));
const JPEG = image(JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')).images.find((i: { file: string; label: string }) => i.label === 'red circle' && i.file.endsWith('.jpg')).file.slice('images/'.length));
const PNG_FILE = readdirPng();
function readdirPng(): Uint8Array {
  const labels = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as { images: { file: string }[] };
  return new Uint8Array(readFileSync(path.join(EVAL_DIR, labels.images.find((i) => i.file.endsWith('.png'))!.file)));
}

let clip: ClipEdge;
let app: ReturnType<typeof createClipApp>;
beforeAll(async () => {
  clip = await sharedClip();
  app = createClipApp({ clip, maxBodyBytes: 10 * 1024 * 1024 });
});

const post = async (url: string, body: BodyInit | Uint8Array | null, type?: string, headers: Record<string, string> = {}): Promise<Response> =>
  app.request(url, { method: 'POST', body: body as BodyInit, headers: { ...(type ? { 'content-type': type } : {}), ...headers } });


describe('routes', () => {
  it('GET /healthz', async () => {
    const r = await app.request('/healthz');
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: 'ok' });
  });

  it('GET /v1/models lists the model, its variants, sizes and the backend', async () => {
    const body = (await (await app.request('/v1/models')).json()) as { models: { id: string; backend: string; variants: Record<string, { vision: { bytes: number } }> }[] };
    expect(body.models[0]!.id).toBe('tiny-clip');
    expect(body.models[0]!.backend).toBe('wasm');
    expect(body.models[0]!.variants.fp32!.vision.bytes).toBeGreaterThan(1000);
  });

  it('GET /v1/label-sets includes the built-in and model sets', async () => {
    const { labelSets } = (await (await app.request('/v1/label-sets')).json()) as { labelSets: string[] };
    expect(labelSets).toEqual(expect.arrayContaining(['cifar10', 'imagenet', 'food101']));
  });

  it('POST /v1/classify with a raw image body and labels in the query', async () => {
    const r = await post('/v1/classify?labels=red%20circle,blue%20star,green%20heart&topK=2', JPEG, 'image/jpeg');
    expect(r.status).toBe(200);
    const body = (await r.json()) as { results: { label: string; score: number }[]; timings: Record<string, number>; variant: { vision: string }; model: string; image: { width: number } };
    expect(body.results).toHaveLength(2);
    expect(body.results[0]!.score).toBeGreaterThanOrEqual(body.results[1]!.score);
    expect(body.model).toBe('tiny-clip');
    expect(body.variant.vision).toBeTruthy();
    expect(Object.keys(body.timings)).toEqual(expect.arrayContaining(['decodeMs', 'preprocessMs', 'inferenceMs', 'totalMs']));
    expect(body.image.width).toBeGreaterThan(0);
  });

  it('repeated labels are taken verbatim (commas kept)', async () => {
    const r = await post('/v1/classify?labels=red,%20white%20and%20blue&labels=green&topK=5', JPEG, 'image/jpeg');
    const body = (await r.json()) as { results: { label: string }[] };
    expect(body.results.map((x) => x.label).sort()).toEqual(['green', 'red, white and blue']);
  });

  it('POST /v1/classify as multipart with fields, and a labelSet', async () => {
    const r = await post('/v1/classify', formWith({ image: new Blob([PNG_FILE as Uint8Array<ArrayBuffer>], { type: 'image/png' }), labelSet: 'cifar10', topK: '3' }));
    expect(r.status).toBe(200);
    const body = (await r.json()) as { results: unknown[]; labelSet: string };
    expect(body.labelSet).toBe('cifar10');
    expect(body.results).toHaveLength(3);
  });

  it('softmax scores over all classes sum to 1', async () => {
    const labels = ['red circle', 'blue star', 'green heart', 'yellow square'];
    const r = await post(`/v1/classify?labels=${encodeURIComponent(labels.join(','))}&topK=4`, JPEG, 'image/jpeg');
    const body = (await r.json()) as { results: { score: number }[] };
    expect(body.results.reduce((s, x) => s + x.score, 0)).toBeCloseTo(1, 5);
  });

  it('POST /v1/embed/image returns a unit-length embedding of the model dimension (classify parameters are ignored)', async () => {
    const r = await post('/v1/embed/image?labels=&topK=x', JPEG, 'image/jpeg');
    expect(r.status).toBe(200);
    const body = (await r.json()) as { embedding: number[]; dim: number };
    expect(body.dim).toBe(clip.info.embedDim);
    expect(Math.hypot(...body.embedding)).toBeCloseTo(1, 5);
  });

  it('POST /v1/embed/text returns one unit embedding per text', async () => {
    const r = await post('/v1/embed/text', JSON.stringify({ texts: ['a red circle', 'a blue star'] }), 'application/json');
    const body = (await r.json()) as { embeddings: number[][]; truncated: boolean[] };
    expect(body.embeddings).toHaveLength(2);
    expect(Math.hypot(...body.embeddings[0]!)).toBeCloseTo(1, 5);
    expect(body.truncated).toEqual([false, false]);
  });

  it('serves an OpenAPI document and a docs page', async () => {
    const doc = (await (await app.request('/openapi.json')).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/classify', '/v1/embed/image', '/v1/embed/text', '/v1/models']));
    const page = await app.request('/docs');
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('openapi.json');
  });
});

testBadInputs('bad inputs: each a clear 4xx JSON error, and the next request still works', () => ({
  request: (url, init) => app.request(url, init),
  jpeg: () => JPEG,
  png: () => PNG_FILE,
  ok: () => post('/v1/classify?labels=red%20circle,blue%20star', JPEG, 'image/jpeg'),
}));

describe('auth and CORS', () => {
  it('requires the bearer key on every route but /healthz', async () => {
    const secured = createClipApp({ clip, apiKey: 's3cret-key' });
    expect((await secured.request('/healthz')).status).toBe(200);
    const none = await secured.request('/v1/models');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/Bearer/);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    expect((await secured.request('/v1/models', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await secured.request('/v1/models', { headers: { authorization: 'Bearer s3cret-key-and-more' } })).status).toBe(401);
    expect((await secured.request('/v1/models', { headers: { authorization: 'Basic s3cret-key' } })).status).toBe(401);
    expect((await secured.request('/v1/models', { headers: { authorization: 'Bearer s3cret-key' } })).status).toBe(200);
  });

  it('sends no CORS headers by default, and the configured origins when set', async () => {
    const plain = await app.request('/v1/models', { headers: { origin: 'https://evil.example' } });
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    const withCors = createClipApp({ clip, corsOrigins: ['https://app.example'] });
    const pre = await withCors.request('/v1/classify', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const other = await withCors.request('/v1/models', { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
  });
});
