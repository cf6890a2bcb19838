import { inject } from 'vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWorkersApp } from '../../../src/runtime/workers/app.ts';
import { envWith, populate, repoFile } from './helpers.ts';

type Json = Record<string, unknown>;
const answers = inject('nodeAnswers');

let JPEG: Uint8Array;
let PNG: Uint8Array;
beforeAll(async () => {
  await populate();
  JPEG = await repoFile(answers.images.find((i) => i.file.endsWith('.jpg'))!.file);
  PNG = await repoFile(answers.images.find((i) => i.file.endsWith('.png'))!.file);
});

/** The Worker's default configuration (wrangler.toml vars): vision tower only. */
const visionOnly = () => createWorkersApp(envWith({}));
const withText = () => createWorkersApp(envWith({ CLIP_EDGE_TEXT: 'true' }));

const post = (app: ReturnType<typeof visionOnly>, url: string, body: BodyInit | Uint8Array, type?: string, headers: Record<string, string> = {}) =>
  app.request(url, { method: 'POST', body: body as BodyInit, headers: { ...(type ? { 'content-type': type } : {}), ...headers } });

describe('the Worker app (vision only, as deployed by default)', () => {
  const app = visionOnly();

  it('GET /healthz', async () => {
    const r = await app.request('/healthz');
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: 'ok' });
  });

  it('GET /v1/models: the model from R2, WASM backend, no text tower loaded', async () => {
    const body = (await (await app.request('/v1/models')).json()) as { models: { id: string; backend: string; active: { vision: { variant: string }; text?: unknown } }[] };
    expect(body.models[0]!.id).toBe('tiny-clip');
    expect(body.models[0]!.backend).toBe('wasm');
    expect(body.models[0]!.active.vision.variant).toBe(answers.variant);
    expect(body.models[0]!.active.text).toBeUndefined();
  });

  it('GET /v1/label-sets: bundled built-ins and the model’s own set from R2', async () => {
    const { labelSets } = (await (await app.request('/v1/label-sets')).json()) as { labelSets: string[] };
    expect(labelSets).toEqual(expect.arrayContaining(['cifar10', 'imagenet', 'imagenet-7', 'food101', 'tiny-clip-shapes']));
  });

  it('classifies with a cached label set (from KV: no text encoder needed)', async () => {
    const r = await post(app, '/v1/classify?labelSet=tiny-clip-shapes&topK=3', JPEG, 'image/jpeg');
    expect(r.status).toBe(200);
    const body = (await r.json()) as { results: { label: string }[]; classes: { source: string; count: number }; variant: { vision: string; text?: string } };
    expect(body.results).toHaveLength(3);
    expect(body.classes).toEqual({ count: 64, source: expect.stringMatching(/prompt-cache|memory/) });
    expect(body.variant.text).toBeUndefined();
  });

  it('classifies with a built-in label set (cifar10) as multipart', async () => {
    const form = new FormData();
    form.append('image', new Blob([PNG as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
    form.append('labelSet', 'cifar10');
    const r = await app.request('/v1/classify', { method: 'POST', body: form });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { results: unknown[] }).results).toHaveLength(5);
  });

  it('POST /v1/embed/image returns a unit embedding', async () => {
    const body = (await (await post(app, '/v1/embed/image', JPEG, 'image/jpeg')).json()) as { embedding: number[]; dim: number };
    expect(body.dim).toBe(answers.images[0]!.embedding.length);
    expect(Math.hypot(...body.embedding)).toBeCloseTo(1, 5);
  });

  it('inline labels and /v1/embed/text need the text tower: 422 with a way out', async () => {
    const r = await post(app, '/v1/classify?labels=red%20circle,blue%20star', JPEG, 'image/jpeg');
    expect(r.status).toBe(422);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('TEXT_ENCODER_UNAVAILABLE');
    expect(body.error.message).toMatch(/prompts build/);
    const t = await post(app, '/v1/embed/text', JSON.stringify({ texts: ['a red circle'] }), 'application/json');
    expect(t.status).toBe(422);
  });
});

describe('answers equal Node’s (same model folder, same images)', () => {
  const app = visionOnly();
  it.each(answers.images.map((i) => [i.file.split('/').pop()!, i] as const))('%s', async (_, ref) => {
    const bytes = await repoFile(ref.file);
    const type = `image/${ref.file.split('.').pop()!.replace('jpg', 'jpeg')}`;
    const r = (await (await post(app, `/v1/classify?labelSet=${answers.labelSet}&topK=3`, bytes, type)).json()) as { results: { label: string; score: number }[]; variant: { vision: string } };
    expect(r.variant.vision).toBe(answers.variant);
    expect(r.results[0]!.label).toBe(ref.results[0]!.label);
    r.results.forEach((x, k) => {
      expect(x.label).toBe(ref.results[k]!.label);
      expect(Math.abs(x.score - ref.results[k]!.score)).toBeLessThan(1e-4);
    });
    const e = (await (await post(app, '/v1/embed/image', bytes, type)).json()) as { embedding: number[] };
    const cos = e.embedding.reduce((s, v, k) => s + v * ref.embedding[k]!, 0);
    expect(cos).toBeGreaterThan(1 - 1e-5);
  });
});

describe('with the text tower enabled (CLIP_EDGE_TEXT=true)', () => {
  const app = withText();

  it('classifies inline labels and writes their class embeddings back to KV', async () => {
    const url = '/v1/classify?labels=red%20circle,blue%20star,green%20heart&topK=3';
    const first = (await (await post(app, url, JPEG, 'image/jpeg')).json()) as { results: { label: string }[]; classes: { source: string } };
    expect(first.classes.source).toBe('text-encoder');
    expect(first.results[0]!.label).toBe('red circle');
    // A fresh isolate's app (new memory cache) now finds the labels in KV.
    const again = (await (await post(withText(), url, JPEG, 'image/jpeg')).json()) as { classes: { source: string } };
    expect(again.classes.source).toBe('prompt-cache');
  });

  it('POST /v1/embed/text returns one unit embedding per text', async () => {
    const r = await post(app, '/v1/embed/text', JSON.stringify({ texts: ['a red circle', 'a blue star'] }), 'application/json');
    expect(r.status).toBe(200);
    const body = (await r.json()) as { embeddings: number[][] };
    expect(body.embeddings).toHaveLength(2);
    expect(Math.hypot(...body.embeddings[1]!)).toBeCloseTo(1, 5);
  });
});

describe('API key (the API_KEY secret)', () => {
  it('requires the bearer key on every route but /healthz', async () => {
    const app = createWorkersApp(envWith({ API_KEY: 's3cret-key' }));
    expect((await app.request('/healthz')).status).toBe(200);
    const none = await app.request('/v1/models');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/Bearer/);
    expect(((await none.json()) as { error: Json }).error.code).toBe('UNAUTHORIZED');
    expect((await app.request('/v1/models', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await post(app, '/v1/classify?labelSet=cifar10', JPEG, 'image/jpeg', { authorization: 'Bearer s3cret-key' })).status).toBe(200);
  });
});
