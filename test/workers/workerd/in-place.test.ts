// In-place loading inside workerd: the Worker streams the ORT-format int8 vision file from R2 into
// ORT's heap (what `npm run workers:upload` uploads by default) and answers as Node's
// onnxruntime-web does on the same file loaded in place, and as the copying path on the .onnx.
import { inject } from 'vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { readModelInfo } from '../../../src/core/model/info.ts';
import { r2ModelSource } from '../../../src/runtime/workers/model-source.ts';
import { createWorkersApp } from '../../../src/runtime/workers/app.ts';
import { ortWasmMemoryBytes } from '../../../src/runtime/workers/ort.ts';
import { MODEL_DIR, MODEL_ID } from '../fixtures.ts';
import { envWith, populate, repoFile } from './helpers.ts';

const answers = inject('nodeAnswers');
const cosine = (a: readonly number[], b: readonly number[]) => a.reduce((s, v, k) => s + v * b[k]!, 0);
const typeOf = (file: string) => `image/${file.split('.').pop()!.replace('jpg', 'jpeg')}`;

let onnxFile = '';
beforeAll(async () => {
  await populate();
  // The upload plan sends only the .ort; the copying path below needs the .onnx int8 too.
  const info = await readModelInfo(r2ModelSource(envWith({}).MODELS, MODEL_ID));
  onnxFile = info.variants.int8!.vision!.file;
  await envWith({}).MODELS.put(`${MODEL_ID}/${onnxFile}`, await repoFile(`${MODEL_DIR}/${onnxFile}`));
});

const embed = async (app: ReturnType<typeof createWorkersApp>, file: string) => {
  const r = await app.request('/v1/embed/image', { method: 'POST', body: (await repoFile(file)) as BodyInit, headers: { 'content-type': typeOf(file) } });
  expect(r.status).toBe(200);
  return ((await r.json()) as { embedding: number[] }).embedding;
};

describe('the Worker loads the int8 vision tower in place from R2', () => {
  const inPlace = createWorkersApp(envWith({}));
  const copying = createWorkersApp(envWith({ CLIP_EDGE_IN_PLACE: 'false' }));

  it('reports it, and the R2 bucket holds only the .ort the upload plan sends', async () => {
    type Models = { models: { active: { vision: { variant: string; loaded: boolean; inPlace?: boolean } } }[] };
    const info = (await (await inPlace.request('/v1/models')).json()) as Models;
    expect(info.models[0]!.active.vision).toMatchObject({ variant: 'int8', inPlace: true });
    expect(answers.images.length).toBeGreaterThanOrEqual(8);
    await embed(inPlace, answers.images[0]!.file);
    const after = (await (await inPlace.request('/v1/models')).json()) as Models;
    expect(after.models[0]!.active.vision).toMatchObject({ loaded: true, inPlace: true });
    expect(ortWasmMemoryBytes()).toBeGreaterThan(0);
  });

  it.each(answers.images.map((i) => [i.file.split('/').pop()!, i] as const))('%s: equals Node in place (cosine ≥ 0.99999) and the copying path on the .onnx', async (_, ref) => {
    const a = await embed(inPlace, ref.file);
    expect(cosine(a, ref.inPlaceEmbedding)).toBeGreaterThanOrEqual(0.99999);
    const b = await embed(copying, ref.file);
    expect(cosine(a, b)).toBeGreaterThanOrEqual(0.99999);
  });

  it('request bodies share the isolate\'s body pool: concurrent requests wait their turn, a body over the pool alone is 413', async () => {
    const small = createWorkersApp(envWith({ CLIP_EDGE_BODY_MEMORY_MB: '0.05' })); // ~52 KB: one fixture photo at a time
    const file = answers.images[0]!.file;
    const bytes = await repoFile(file);
    expect(bytes.byteLength).toBeLessThan(52_000);
    const all = await Promise.all([0, 1, 2, 3].map(() => small.request('/v1/embed/image', { method: 'POST', body: bytes as BodyInit, headers: { 'content-type': typeOf(file), 'content-length': String(bytes.byteLength) } })));
    expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const embeddings = await Promise.all(all.map(async (r) => ((await r.json()) as { embedding: number[] }).embedding));
    for (const e of embeddings) expect(cosine(e, embeddings[0]!)).toBeGreaterThan(1 - 1e-6);
    const big = new Uint8Array(60_000);
    big.set(bytes);
    const r = await small.request('/v1/embed/image', { method: 'POST', body: big as BodyInit, headers: { 'content-type': 'image/jpeg', 'content-length': String(big.byteLength) } });
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/holds at most 0\.0 MB of request bodies at once/) } });
  });

  it('a bad CLIP_EDGE_IN_PLACE is a configuration error naming it', () => {
    expect(() => createWorkersApp(envWith({ CLIP_EDGE_IN_PLACE: 'maybe' }))).toThrow(/CLIP_EDGE_IN_PLACE must be true or false/);
  });
});
