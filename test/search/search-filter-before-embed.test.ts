// Review finding: /v1/search (createSearchService.searchText / searchImage) embeds the query first
// (text inference, or image decode + vision inference) and only then has the index check topK and
// the filter (checkQuery -> checkFilter): a filter on an unknown field, 2,000 $in values or a
// 100 KB filter still costs a full embedding before its 400. The limits should refuse first.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClipEdge } from '../../src/core/clip.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { createMemoryIndex } from '../../src/search/drivers/memory.ts';
import { createSearchService, type SearchService } from '../../src/search/service.ts';
import { repoRoot } from '../helpers/shared-data.ts';

let clip: ClipEdge;
let service: SearchService;
const embeds = { text: 0, image: 0 };
beforeAll(async () => {
  clip = await createNodeClipEdge({ decodeThreads: 0 });
  // The real model, counted: every call still goes to it.
  const counted = Object.assign(Object.create(clip) as ClipEdge, {
    embedText: (...a: Parameters<ClipEdge['embedText']>) => (embeds.text++, clip.embedText(...a)),
    embedImage: (...a: Parameters<ClipEdge['embedImage']>) => (embeds.image++, clip.embedImage(...a)),
  });
  const index = await createMemoryIndex({ model: clip.info.id, dim: clip.info.embedDim, fields: { album: 'string' } });
  service = createSearchService(counted, index);
}, 120_000);
afterAll(() => undefined);

describe('a search request the index refuses is refused before the query is embedded', () => {
  const bad = [
    ['an unknown filter field', { filter: { nope: 'x' } }],
    ['2,000 $in values', { filter: { album: { $in: Array.from({ length: 2000 }, (_, i) => `a${i}`) } } }],
    ['a 100 KB filter', { filter: { album: 'x'.repeat(100_000) } }],
    ['topK over the limit', { topK: 5000 }],
  ] as const;
  it.each(bad)('text query with %s', async (_, request) => {
    embeds.text = 0;
    await expect(service.searchText('a photo of a cat', request as never)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(embeds.text).toBe(0);
  });
  it('image query with an unknown filter field', async () => {
    embeds.image = 0;
    const png = new Uint8Array(readFileSync(path.join(repoRoot, 'test/fixtures/pil/inputs/rgb8.png')));
    await expect(service.searchImage(png, { filter: { nope: 'x' } })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(embeds.image).toBe(0);
  });
});

describe('an index request the index refuses is refused before any image is embedded', () => {
  const png = () => new Uint8Array(readFileSync(path.join(repoRoot, 'test/fixtures/pil/inputs/rgb8.png')));
  const bad = [
    ['metadata of the wrong type for a declared field', [{ image: png(), metadata: { album: 5 } }, { image: png() }]],
    ['a metadata key that is not allowed', [{ image: png(), metadata: { 'a.b': 'x' } }]],
    ['an id over 64 bytes', [{ image: png(), id: 'x'.repeat(65) }]],
    ['the same id twice', [{ image: png(), id: 'same' }, { image: png(), id: 'same' }]],
  ] as const;
  it.each(bad)('%s', async (_, items) => {
    embeds.image = 0;
    await expect(service.add(items as never)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(embeds.image).toBe(0);
  });
});
