import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClipApp } from '../../src/core/app.ts';
import type { ClipEdge } from '../../src/core/clip.ts';
import { EVAL_DIR, sharedClip } from '../helpers/clip.ts';

const image = (f: string) => new Uint8Array(readFileSync(path.join(EVAL_DIR, 'images', f)));
const JPEG = image(JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')).images.find((i: { file: string; label: string }) => i.label === 'red circle' && i.file.endsWith('.jpg')).file.slice('images/'.length));
const PNG_FILE = readdirPng();
function readdirPng(): Uint8Array {
  const labels = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as { images: { file: string }[] };
  return new Uint8Array(readFileSync(path.join(EVAL_DIR, labels.images.find((i) => i.file.endsWith('.png'))!.file)));
}

/** A PNG header claiming 100000×100000 pixels (a decompression bomb), with a valid IHDR CRC. */
function bombPng(): Uint8Array {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  const ihdr = [0, 0, 0, 13, 73, 72, 68, 82, 0, 1, 134, 160, 0, 1, 134, 160, 8, 2, 0, 0, 0];
  let c = 0xffffffff;
  for (const b of ihdr.slice(4)) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  c = (c ^ 0xffffffff) >>> 0;
  return new Uint8Array([...sig, ...ihdr, c >>> 24, (c >>> 16) & 255, (c >>> 8) & 255, c & 255, 0, 0, 0, 0, 73, 68, 65, 84]);
}

let clip: ClipEdge;
let app: ReturnType<typeof createClipApp>;
beforeAll(async () => {
  clip = await sharedClip();
  app = createClipApp({ clip, maxBodyBytes: 10 * 1024 * 1024 });
});

const post = async (url: string, body: BodyInit | Uint8Array | null, type?: string, headers: Record<string, string> = {}): Promise<Response> =>
  app.request(url, { method: 'POST', body: body as BodyInit, headers: { ...(type ? { 'content-type': type } : {}), ...headers } });

const formWith = (fields: Record<string, string | Blob | string[]>) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) for (const x of Array.isArray(v) ? v : [v]) f.append(k, x);
  return f;
};

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

const tooManyLabels = Array.from({ length: 10_000 }, (_, i) => `l${i}`).join(',');

// Each case: a clear 4xx JSON error with a code; the server answers the next request normally.
const badInputs: [string, () => Promise<Response> | Response, number, string][] = [
  ['0-byte body', () => post('/v1/classify?labels=a,b', new Uint8Array(0), 'image/jpeg'), 400, 'BAD_INPUT'],
  ['random bytes as JPEG', () => post('/v1/classify?labels=a,b', new Uint8Array(2000).map((_, i) => (i * 7919) & 255), 'image/jpeg'), 415, 'UNSUPPORTED_IMAGE'],
  ['corrupt JPEG (valid header, garbage data)', () => post('/v1/classify?labels=a,b', new Uint8Array([...JPEG.slice(0, 600), ...new Uint8Array(3000).fill(0x55)]), 'image/jpeg'), 400, 'CORRUPT_IMAGE'],
  ['truncated JPEG', () => post('/v1/classify?labels=a,b', JPEG.slice(0, 300), 'image/jpeg'), 400, 'CORRUPT_IMAGE'],
  ['truncated PNG', () => post('/v1/classify?labels=a,b', PNG_FILE.slice(0, 60), 'image/png'), 400, 'CORRUPT_IMAGE'],
  ['decompression-bomb PNG header (100000×100000)', () => post('/v1/classify?labels=a,b', bombPng(), 'image/png'), 413, 'IMAGE_TOO_LARGE'],
  ['wrong content type', () => post('/v1/classify?labels=a,b', JPEG, 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ['no content type', () => post('/v1/classify?labels=a,b', JPEG), 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ['GIF bytes', () => post('/v1/classify?labels=a,b', new TextEncoder().encode('GIF89a\x01\x00\x01\x00'), 'image/gif'), 415, 'UNSUPPORTED_IMAGE'],
  ['malformed JSON', () => post('/v1/embed/text', '{"texts": [', 'application/json'), 400, 'BAD_INPUT'],
  ['texts not an array', () => post('/v1/embed/text', JSON.stringify({ texts: 'a cat' }), 'application/json'), 400, 'BAD_INPUT'],
  ['empty texts', () => post('/v1/embed/text', JSON.stringify({ texts: [] }), 'application/json'), 400, 'BAD_INPUT'],
  ['embed/text as form data', () => post('/v1/embed/text', 'texts=a', 'application/x-www-form-urlencoded'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ['100 kB text', () => post('/v1/embed/text', JSON.stringify({ texts: ['x'.repeat(100_000)] }), 'application/json'), 400, 'BAD_INPUT'],
  ['empty labels', () => post('/v1/classify?labels=', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['only commas as labels', () => post('/v1/classify?labels=,,,', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['10,000 labels', () => post('/v1/classify', formWith({ image: new Blob([JPEG as Uint8Array<ArrayBuffer>]), labels: tooManyLabels }), undefined), 400, 'TOO_MANY_LABELS'],
  ['100 kB label', () => post('/v1/classify', formWith({ image: new Blob([JPEG as Uint8Array<ArrayBuffer>]), labels: ['cat', 'y'.repeat(100_000)] })), 400, 'BAD_INPUT'],
  ['duplicate labels', () => post('/v1/classify?labels=cat&labels=Cat', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['unknown label set', () => post('/v1/classify?labelSet=no-such-set', JPEG, 'image/jpeg'), 404, 'UNKNOWN_LABEL_SET'],
  ['label set name with a path', () => post('/v1/classify?labelSet=../../etc/passwd', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['labels and labelSet together', () => post('/v1/classify?labels=a&labelSet=cifar10', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['neither labels nor labelSet', () => post('/v1/classify', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['topK=0', () => post('/v1/classify?labels=a,b&topK=0', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['topK not a number', () => post('/v1/classify?labels=a,b&topK=ten', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['a label set re-read through too many templates (prompt limit)', () => post('/v1/classify?labelSet=imagenet&templates=a%20{}&templates=the%20{}&templates=one%20{}', JPEG, 'image/jpeg'), 400, 'TOO_MANY_LABELS'],
  ['template without {}', () => post('/v1/classify?labels=a,b&templates=a%20photo', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['multipart without image field', () => post('/v1/classify', formWith({ labels: 'a,b' })), 400, 'BAD_INPUT'],
  ['multipart image field as text', () => post('/v1/classify', formWith({ image: 'not a file', labels: 'a,b' })), 400, 'BAD_INPUT'],
  ['multipart with an empty file', () => post('/v1/classify', formWith({ image: new Blob([]), labels: 'a,b' })), 400, 'BAD_INPUT'],
  ['broken multipart body', () => post('/v1/classify', '--x\r\nContent-Disposition: form-data; name="image"\r\n\r\nabc', 'multipart/form-data; boundary=y'), 400, 'BAD_INPUT'],
  ['body over the 10 MB limit', () => post('/v1/classify?labels=a,b', new Uint8Array(10 * 1024 * 1024 + 1), 'image/jpeg'), 413, 'PAYLOAD_TOO_LARGE'],
  ['unknown route', () => app.request('/v1/nope'), 404, 'NOT_FOUND'],
];

describe('bad inputs: each a clear 4xx JSON error, and the next request still works', () => {
  it.each(badInputs)('%s → %i %s', async (_, send, status, code) => {
    const r = await send();
    expect(r.status).toBe(status);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(5);
    expect(body.error.message).not.toMatch(/\/work\/|node_modules|at .*\(.*:\d+:\d+\)/);
    const ok = await post('/v1/classify?labels=red%20circle,blue%20star', JPEG, 'image/jpeg');
    expect(ok.status).toBe(200);
  });
});

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
