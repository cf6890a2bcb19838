// The search routes through the real Hono app and the bundled model (tiny-clip, WASM), over the
// memory driver. Expected matches come from the eval set's labels (make_eval.py), not from the code.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClipApp } from '../../src/http/app.ts';
import type { ClipEdge } from '../../src/core/clip.ts';
import { createMemoryIndex } from '../../src/search/drivers/memory.ts';
import type { VectorIndex } from '../../src/search/types.ts';
import { EVAL_DIR, type EvalSet, sharedClip } from '../helpers/clip.ts';

const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
const bytes = (file: string) => new Uint8Array(readFileSync(path.join(EVAL_DIR, file)));
/** The first seen-split JPEG of each class. */
const pick = (label: string) => evalSet.images.find((i) => i.label === label && i.split === 'seen' && i.file.endsWith('.jpg'))!;
const CLASSES = ['red circle', 'blue square', 'green triangle', 'yellow star'];
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let clip: ClipEdge;
let index: VectorIndex;
let app: ReturnType<typeof createClipApp>;
beforeAll(async () => {
  clip = await sharedClip();
  index = await createMemoryIndex({ model: clip.info.id, dim: clip.info.embedDim, fields: { label: 'string' } });
  app = createClipApp({ clip, index, maxBodyBytes: 2 * 1024 * 1024 });
});

const form = (items: { file: string; id?: string; metadata?: object }[]) => {
  const f = new FormData();
  for (const it of items) {
    f.append('image', new Blob([bytes(it.file) as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }), path.basename(it.file));
    if (it.id) f.append('id', it.id);
    if (it.metadata) f.append('metadata', JSON.stringify(it.metadata));
  }
  return f;
};
const json = async (r: Response) => (await r.json()) as Record<string, unknown>;
const search = (body: object) => app.request('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const errorOf = async (r: Response) => ((await r.json()) as { error: { code: string; message: string } }).error;

describe('search over HTTP', () => {
  it('POST /v1/index (multipart batch with ids and metadata), then text search finds the right class first', async () => {
    const r = await app.request('/v1/index', { method: 'POST', body: form(CLASSES.map((l) => ({ file: pick(l).file, id: l.replace(' ', '-'), metadata: { label: l, file: pick(l).file } }))) });
    expect(r.status).toBe(200);
    const body = await json(r);
    expect(body).toMatchObject({ model: 'tiny-clip', ids: ['red-circle', 'blue-square', 'green-triangle', 'yellow-star'], count: 4 });
    for (const label of CLASSES) {
      const s = await search({ text: `a photo of a ${label}.`, topK: 4 });
      expect(s.status).toBe(200);
      const { matches } = (await s.json()) as { matches: { id: string; score: number; metadata: { label: string } }[] };
      expect(matches).toHaveLength(4);
      expect(matches[0]!.metadata.label).toBe(label);
      expect(matches[0]!.score).toBeGreaterThan(matches[1]!.score);
    }
  });

  it('a raw image body gets the sha256 of its bytes as id; indexing it again changes nothing', async () => {
    const file = pick('purple ring').file;
    const post = () => app.request('/v1/index?metadata=%7B%22label%22%3A%22purple%20ring%22%7D', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: bytes(file) });
    const first = await json(await post());
    expect(first.ids).toEqual([sha(bytes(file))]);
    const count = first.count;
    expect((await json(await post())).count).toBe(count);
  });

  it('image search (more like this one): the same image comes first with cosine ≈ 1', async () => {
    const r = await app.request('/v1/search?topK=2', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: bytes(pick('blue square').file) });
    const { matches } = (await r.json()) as { matches: { id: string; score: number }[] };
    expect(matches[0]!.id).toBe('blue-square');
    // Not exactly 1: it was indexed in a batch of 4, and the int8 variant's dynamic quantization takes
    // its scale from the whole batch, so an embedding moves slightly with its batch partners.
    expect(matches[0]!.score).toBeGreaterThan(0.999);
  });

  it('metadata filter narrows the search; multipart image search takes topK and filter fields', async () => {
    const s = await search({ text: 'a photo of a red circle.', topK: 3, filter: { label: { $in: ['blue square', 'yellow star'] } } });
    const { matches } = (await s.json()) as { matches: { metadata: { label: string } }[] };
    expect(matches.map((m) => m.metadata.label).sort()).toEqual(['blue square', 'yellow star']);
    const f = new FormData();
    f.append('image', new Blob([bytes(pick('green triangle').file) as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }));
    f.append('topK', '1');
    f.append('filter', JSON.stringify({ label: 'green triangle' }));
    const m = (await (await app.request('/v1/search', { method: 'POST', body: f })).json()) as { matches: { id: string }[] };
    expect(m.matches.map((x) => x.id)).toEqual(['green-triangle']);
  });

  it('DELETE /v1/index/{id}: 200, then 404', async () => {
    await app.request('/v1/index?id=to-delete', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: bytes(pick('red star').file) });
    const before = await index.count();
    const r = await app.request('/v1/index/to-delete', { method: 'DELETE' });
    expect(r.status).toBe(200);
    expect(await index.count()).toBe(before - 1);
    const again = await app.request('/v1/index/to-delete', { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect((await errorOf(again)).code).toBe('NOT_FOUND');
  });

  it('a corrupt image in a batch: 400 naming it, and nothing of the batch is written', async () => {
    const before = await index.count();
    const f = form([{ file: pick('red ring').file, id: 'batch-good' }]);
    f.append('image', new Blob([new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])], { type: 'image/jpeg' }));
    f.append('id', 'batch-bad');
    const r = await app.request('/v1/index', { method: 'POST', body: f });
    expect(r.status).toBe(400);
    const e = await errorOf(r);
    expect(e.code).toBe('CORRUPT_IMAGE');
    expect(e.message).toMatch(/image 2 of 2/);
    expect(await index.count()).toBe(before);
    expect([...(await index.has(['batch-good', 'batch-bad']))]).toEqual([]);
  });

  it.each([
    ['empty text', () => search({ text: '  ' }), 400, 'BAD_INPUT', /empty/],
    ['unknown filter field', () => search({ text: 'a red circle', filter: { colour: 'red' } }), 400, 'BAD_INPUT', /unknown field "colour"/],
    ['topK out of range', () => search({ text: 'a red circle', topK: 5000 }), 400, 'BAD_INPUT', /topK/],
    ['unknown body field', () => search({ text: 'a red circle', k: 3 }), 400, 'BAD_INPUT', /text/],
    ['bad metadata JSON', () => app.request('/v1/index?metadata=%7Bnope', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: bytes(pick('red circle').file) }), 400, 'BAD_INPUT', /metadata/],
    ['nested metadata', () => app.request(`/v1/index?metadata=${encodeURIComponent('{"a":{"b":1}}')}`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: bytes(pick('red circle').file) }), 400, 'BAD_INPUT', /metadata/],
    ['id too long', () => app.request(`/v1/index?id=${'x'.repeat(80)}`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: bytes(pick('red circle').file) }), 400, 'BAD_INPUT', /64 bytes/],
    ['a __proto__ metadata key', () => app.request(`/v1/index?metadata=${encodeURIComponent('{"__proto__":{"label":"x"}}')}`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: bytes(pick('red circle').file) }), 400, 'BAD_INPUT', /__proto__/],
    ['a __proto__ filter field', () => search({ text: 'a red circle', filter: JSON.parse('{"__proto__":{"label":"x"}}') as object }), 400, 'BAD_INPUT', /unknown field "__proto__"/],
    ['a filter field named constructor', () => search({ text: 'a red circle', filter: { constructor: 'x' } }), 400, 'BAD_INPUT', /unknown field "constructor" \(filterable: label\)/],
    ['200,000 values in one in-list (1.6 MB)', () => search({ text: 'a red circle', filter: { label: { $in: Array.from({ length: 200_000 }, (_, i) => `l${i}`) } } }), 400, 'BAD_INPUT', /at most 1024/],
    ['wrong media type', () => app.request('/v1/search', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'a red circle' }), 415, 'UNSUPPORTED_MEDIA_TYPE', /application\/json/],
    ['empty image body', () => app.request('/v1/index', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array() }), 400, 'BAD_INPUT', /empty/],
    ['body over the limit', () => app.request('/v1/index', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(3 * 1024 * 1024) }), 413, 'PAYLOAD_TOO_LARGE', /larger/],
  ] as const)('%s → %i %s', async (_name, call, status, code, words) => {
    const before = await index.count();
    const r = await call();
    expect(r.status).toBe(status);
    const e = await errorOf(r);
    expect(e.code).toBe(code);
    expect(e.message).toMatch(words);
    expect(await index.count()).toBe(before);
  });

  it('metadata keys named constructor, toString, hasOwnProperty are stored and returned as ordinary keys', async () => {
    const metadata = { constructor: 'c', toString: 1, hasOwnProperty: true, label: 'odd keys' };
    const r = await app.request(`/v1/index?id=odd-keys&metadata=${encodeURIComponent(JSON.stringify(metadata))}`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: bytes(pick('red circle').file) });
    expect(r.status).toBe(200);
    const s = await search({ text: 'a red circle', topK: 1, filter: { label: 'odd keys' } });
    expect(((await s.json()) as { matches: unknown[] }).matches).toEqual([expect.objectContaining({ id: 'odd-keys', metadata })]);
    await index.delete(['odd-keys']);
  });

  it('an index of another model: 409 INDEX_MISMATCH; no index: 404 saying how to enable search', async () => {
    const other = createClipApp({ clip, index: await createMemoryIndex({ model: 'vit-b-32', dim: 512 }) });
    const r = await other.request('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'a red circle' }) });
    expect(r.status).toBe(409);
    expect((await errorOf(r)).message).toMatch(/vit-b-32.*tiny-clip/);
    const none = createClipApp({ clip });
    const n = await none.request('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'a red circle' }) });
    expect(n.status).toBe(404);
    expect((await errorOf(n)).message).toMatch(/--db/);
  });

  it('the same auth as the other routes, and the routes are in the OpenAPI document', async () => {
    const keyed = createClipApp({ clip, index, apiKey: 'k1' });
    expect((await keyed.request('/v1/index/x', { method: 'DELETE' })).status).toBe(401);
    expect((await keyed.request('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"a"}' })).status).toBe(401);
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/v1/index']!)).toEqual(['post']);
    expect(Object.keys(doc.paths['/v1/index/{id}']!)).toEqual(['delete']);
    expect(Object.keys(doc.paths['/v1/search']!)).toEqual(['post']);
  });
});
