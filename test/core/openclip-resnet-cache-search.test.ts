// The prompt cache and search work unchanged with a ResNet tower (open_clip's ModifiedResNet +
// attention pool, small-width fixture test/fixtures/openclip/rn): a label set's cache built with its
// text tower serves a vision-only deployment (int8 vision: the edge setup) with the ranking
// open_clip's PyTorch embeddings give; the memory search index finds each photo by its own image
// and ranks the photos for a prompt as PyTorch's embeddings do.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quantizeModelFolder } from '../../quantize/folder.ts';
import { parseGates } from '../../quantize/verify/gates.ts';
import { makeLabelSet, staticLabelSets } from '../../src/core/label-sets.ts';
import { memoryPromptCacheStore } from '../../src/core/prompt-cache/store.ts';
import { cosine } from '../../src/core/zeroshot.ts';
import { nodeImageCodecs } from '../../src/runtime/fs/codecs.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { fsModelSource } from '../../src/runtime/fs/model-source.ts';
import { createMemoryIndex } from '../../src/search/drivers/memory.ts';
import { createSearchService } from '../../src/search/service.ts';
import { REPO_ROOT } from '../helpers/clip.ts';

const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/openclip/rn');
const ref = JSON.parse(readFileSync(path.join(FIXTURE, 'reference.json'), 'utf8')) as {
  images: Record<string, { image_embeds: number[] }>;
  texts: Record<string, { text_embeds: number[] }>;
};
const photos = Object.keys(ref.images);
const texts = Object.keys(ref.texts);
const photo = (p: string) => new Uint8Array(readFileSync(path.join(REPO_ROOT, p)));
const torchImage = (p: string) => Float32Array.from(ref.images[p]!.image_embeds);
const torchText = (t: string) => Float32Array.from(ref.texts[t]!.text_embeds);

const work = mkdtempSync(path.join(tmpdir(), 'clip-edge-rn-cache-'));
const folder = path.join(work, 'rn');
beforeAll(async () => {
  cpSync(FIXTURE, folder, { recursive: true });
  const q = await quantizeModelFolder(folder, {
    io: { source: fsModelSource(folder), imageCodecs: nodeImageCodecs() },
    variants: ['int8'],
    towers: ['vision'],
    gates: parseGates('int8.top1Agreement=0'), // random weights, near-tied classes (test/core/openclip-export.test.ts)
    budget: { maxImages: 8, maxTemplates: 1, latencyRuns: 1 },
    sharedDataDir: null,
  });
  expect(q.failures).toEqual([]);
}, 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('open_clip ResNet: prompt cache and search', () => {
  it('a cache built with the text tower serves a vision-only int8 deployment, ranking as PyTorch does', async () => {
    const store = memoryPromptCacheStore();
    const withText = await createNodeClipEdge({ model: folder, backend: 'wasm', visionVariant: 'fp32', textVariant: 'fp32', promptCache: store });
    const set = makeLabelSet('rn-prompts', texts, ['{}']);
    const entry = await withText.buildPromptCache(set, { dtype: 'float32' });
    await store.put('rn-prompts', entry);
    const edge = await createNodeClipEdge({ model: folder, backend: 'wasm', text: false, visionVariant: 'int8', promptCache: store, labelSets: staticLabelSets({ 'rn-prompts': { classes: texts, templates: ['{}'] } }) });
    expect(edge.hasText).toBe(false);
    for (const p of photos) {
      const r = await edge.classify(photo(p), { labelSet: 'rn-prompts', topK: texts.length });
      expect(r.variant.vision).toBe('int8');
      const expected = [...texts].sort((a, b) => cosine(torchImage(p), torchText(b)) - cosine(torchImage(p), torchText(a)));
      expect(r.results[0]!.label, p).toBe(expected[0]);
    }
    await withText.close();
    await edge.close();
  }, 120_000);

  it('the memory index finds each photo by its own image first, and ranks the photos for a prompt as PyTorch’s embeddings do', async () => {
    const clip = await createNodeClipEdge({ model: folder, backend: 'wasm', visionVariant: 'fp32', textVariant: 'fp32' });
    const index = await createMemoryIndex({ model: clip.info.id, dim: clip.info.embedDim });
    const service = createSearchService(clip, index);
    const { ids } = await service.add(photos.map((p, i) => ({ id: `p${i}`, image: photo(p) })));
    expect(ids).toHaveLength(photos.length);
    for (const [i, p] of photos.entries()) expect((await service.searchImage(photo(p), { topK: 1 })).matches[0]!.id, p).toBe(`p${i}`);
    const t = texts[0]!;
    const expected = photos.map((p, i) => ({ id: `p${i}`, s: cosine(torchImage(p), torchText(t)) })).sort((a, b) => b.s - a.s).map((x) => x.id);
    expect((await service.searchText(t, { topK: photos.length })).matches.map((m) => m.id)).toEqual(expected);
    await clip.close();
  }, 120_000);
});
