import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClipApp } from '../../src/http/app.ts';
import type { ClipEdge } from '../../src/core/clip.ts';
import { makeLabelSet } from '../../src/core/label-sets.ts';
import { decodePromptCache } from '../../src/core/prompt-cache/format.ts';
import { memoryPromptCacheStore } from '../../src/core/prompt-cache/store.ts';
import { logits } from '../../src/core/zeroshot.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { fsPromptCacheStore } from '../../src/runtime/fs/prompt-cache.ts';
import { EVAL_DIR, MODEL_DIR, type EvalSet } from '../helpers/clip.ts';

const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
const jpeg = new Uint8Array(readFileSync(path.join(EVAL_DIR, evalSet.images.find((i) => i.file.endsWith('.jpg'))!.file)));
const shapes = makeLabelSet('tiny-clip-shapes', evalSet.labels, evalSet.templates);

let withText: ClipEdge;
beforeAll(async () => {
  withText = await createNodeClipEdge({ backend: 'wasm', promptCache: memoryPromptCacheStore() });
});

const cosineRows = (a: Float32Array, b: Float32Array, dim: number) =>
  Array.from({ length: a.length / dim }, (_, r) => {
    let s = 0;
    for (let i = 0; i < dim; i++) s += a[r * dim + i]! * b[r * dim + i]!;
    return s;
  });

describe('prompt cache on the request path', () => {
  it('the builder equals a direct per-request computation (fp32 storage: cosine ≥ 0.9999)', async () => {
    const entry = await withText.buildPromptCache(shapes, { dtype: 'float32' });
    const fresh = await createNodeClipEdge({ backend: 'wasm', promptCache: memoryPromptCacheStore() });
    const direct = await fresh.classEmbeddings(makeLabelSet('inline', shapes.synonyms, shapes.templates));
    expect(direct.source).toBe('text-encoder');
    const built = await decodePromptCache(entry, { labelSet: shapes, dim: withText.info.embedDim, textEncoderSha256: [entry.header.textEncoder.sha256] });
    for (const c of cosineRows(built, direct.matrix, withText.info.embedDim)) expect(c).toBeGreaterThanOrEqual(0.9999);
  });

  it('fp16 storage gives the same top-1 as fp32 on the whole eval set', async () => {
    const dim = withText.info.embedDim;
    const built32 = await withText.buildPromptCache(shapes, { dtype: 'float32' });
    const expectation = { labelSet: shapes, dim, textEncoderSha256: [built32.header.textEncoder.sha256] };
    const m32 = await decodePromptCache(built32, expectation);
    const m16 = await decodePromptCache(await withText.buildPromptCache(shapes, { dtype: 'float16' }), expectation);
    let same = 0;
    for (const item of evalSet.images) {
      const { embedding } = await withText.embedImage(new Uint8Array(readFileSync(path.join(EVAL_DIR, item.file))));
      const a = logits(embedding, m32, dim, 1);
      const b = logits(embedding, m16, dim, 1);
      if (a.indexOf(Math.max(...a)) === b.indexOf(Math.max(...b))) same++;
    }
    expect(same).toBe(evalSet.images.length);
  }, 120_000);

  it('a vision-only deployment classifies a cached label set with no text encoder', async () => {
    const store = memoryPromptCacheStore();
    await store.put('cifar10', await withText.buildPromptCache(await withText.labelSet('cifar10')));
    const visionOnly = await createNodeClipEdge({ backend: 'wasm', text: false, promptCache: store });
    expect(visionOnly.hasText).toBe(false);
    const r = await visionOnly.classify(jpeg, { labelSet: 'cifar10', topK: 3 });
    expect(r.classes).toEqual({ count: 10, source: 'prompt-cache' });
    expect(r.variant.text).toBeUndefined();
    const again = await visionOnly.classify(jpeg, { labelSet: 'cifar10' });
    expect(again.classes.source).toBe('memory');
  });

  it('an uncached label set on a vision-only deployment is a clear 422 that says how to build it', async () => {
    const visionOnly = await createNodeClipEdge({ backend: 'wasm', text: false, promptCache: memoryPromptCacheStore() });
    const app = createClipApp({ clip: visionOnly });
    const r = await app.request('/v1/classify?labelSet=food101', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: jpeg });
    expect(r.status).toBe(422);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('TEXT_ENCODER_UNAVAILABLE');
    expect(body.error.message).toMatch(/clip-edge prompts build --model <model-dir> --labels food101/);
    const inline = await app.request('/v1/classify?labels=a,b', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: jpeg });
    expect(inline.status).toBe(422);
  });

  it('inline labels are embedded once and written back, so another kit sharing the store needs no text encoder', async () => {
    const store = memoryPromptCacheStore();
    const a = await createNodeClipEdge({ backend: 'wasm', promptCache: store });
    const first = await a.classify(jpeg, { labels: ['red circle', 'blue star'] });
    expect(first.classes.source).toBe('text-encoder');
    expect((await store.keys()).some((k) => k.startsWith('inline-'))).toBe(true);
    const b = await createNodeClipEdge({ backend: 'wasm', text: false, promptCache: store });
    const second = await b.classify(jpeg, { labels: ['red circle', 'blue star'] });
    expect(second.classes.source).toBe('prompt-cache');
    expect(second.results[0]!.label).toBe(first.results[0]!.label);
    expect(second.results[0]!.score).toBeCloseTo(first.results[0]!.score, 5);
  });

  it('a stale cache (other templates under the same name) is detected and recomputed, never used', async () => {
    const store = memoryPromptCacheStore();
    const wrong = await withText.buildPromptCache(makeLabelSet('cifar10', ['x', 'y'], ['{}']));
    await store.put('cifar10', wrong);
    const kit = await createNodeClipEdge({ backend: 'wasm', promptCache: store });
    const r = await kit.classify(jpeg, { labelSet: 'cifar10' });
    expect(r.classes).toEqual({ count: 10, source: 'text-encoder' });
    const visionOnly = await createNodeClipEdge({ backend: 'wasm', text: false, promptCache: memoryPromptCacheStore() });
    await (async () => {
      const s = memoryPromptCacheStore();
      await s.put('cifar10', wrong);
      const v = await createNodeClipEdge({ backend: 'wasm', text: false, promptCache: s });
      await expect(v.classify(jpeg, { labelSet: 'cifar10' })).rejects.toMatchObject({ code: 'TEXT_ENCODER_UNAVAILABLE', message: expect.stringMatching(/classes or templates differ/) });
    })();
    expect(visionOnly.hasText).toBe(false);
  });
});

describe('tiered stores', () => {
  it('a stale entry in the first tier does not hide a valid one behind it', async () => {
    const { tieredPromptCacheStore } = await import('../../src/core/prompt-cache/store.ts');
    const user = memoryPromptCacheStore();
    const shipped = memoryPromptCacheStore();
    await user.put('cifar10', await withText.buildPromptCache(makeLabelSet('cifar10', ['x', 'y'], ['{}'])));
    await shipped.put('cifar10', await withText.buildPromptCache(await withText.labelSet('cifar10')));
    const visionOnly = await createNodeClipEdge({ backend: 'wasm', text: false, promptCache: tieredPromptCacheStore(user, shipped) });
    expect((await visionOnly.classify(jpeg, { labelSet: 'cifar10' })).classes.source).toBe('prompt-cache');
  });
});

describe('the prompt caches shipped with the bundled model', () => {
  const dir = path.join(MODEL_DIR, 'prompts');
  const names = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));

  it('include the built-in sets and the model\'s own', () => {
    expect(names).toEqual(expect.arrayContaining(['cifar10', 'cifar100', 'imagenet', 'imagenet-7', 'food101', 'tiny-clip-shapes']));
  });

  it.each(names)('%s is valid for the model as it is now (not stale)', async (name) => {
    const entry = (await fsPromptCacheStore(dir).get(name))!;
    const set = await withText.labelSet(name);
    const shas = Object.values(withText.info.variants).map((t) => t?.text?.sha256).filter((x): x is string => !!x);
    const m = await decodePromptCache(entry, { labelSet: set, dim: withText.info.embedDim, textEncoderSha256: shas });
    expect(m.length).toBe(set.labels.length * withText.info.embedDim);
  });
});
