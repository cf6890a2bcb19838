// The LanceDB driver's approximate index (not timed: bench/search-ann.ts measures it). A small
// clustered, CLIP-like table (bench/lib/clip-like.ts) with the index built by persist(); expected
// answers come from a brute-force cosine ranking written here.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clipLike, cosine, uniform } from '../../bench/lib/clip-like.ts';
import { createLanceDbIndex } from '../../src/search/drivers/lancedb.ts';
import type { LanceDbAnnOptions } from '../../src/search/drivers/lancedb-ann.ts';
import type { VectorIndex } from '../../src/search/types.ts';

const DIM = 64;
const ROWS = 3000;
const MODEL = 'ann-test';
const ANN: LanceDbAnnOptions = { minRows: 2000 }; // the driver's defaults otherwise
const data = clipLike(ROWS, DIM, 20, 1234);
const dir = mkdtempSync(path.join(tmpdir(), 'clip-edge-lancedb-ann-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const logged: string[] = [];
const open = (uri: string, ann?: LanceDbAnnOptions | false) => createLanceDbIndex({ uri, model: MODEL, dim: DIM, log: (l) => logged.push(l), ...(ann === undefined ? {} : { ann }) });
const records = (from: number, to: number) => data.points.slice(from, to).map((vector, i) => ({ id: `p${from + i}`, vector, metadata: {} }));
const indexFiles = (uri: string) => readdirSync(path.join(uri, 'images.lance', '_indices')).sort();
async function vectorIndices(uri: string) {
  const db = await lancedb.connect(uri);
  const table = await db.openTable('images');
  try {
    return (await table.listIndices()).filter((i) => i.columns.includes('vector'));
  } finally {
    table.close();
    db.close();
  }
}
/** Brute-force top k ids over the first `n` stored points. */
const exactTop = (q: Float32Array, k: number, n = ROWS) =>
  data.points.slice(0, n).map((p, i) => ({ id: `p${i}`, s: cosine(p, q) })).sort((a, b) => b.s - a.s).slice(0, k).map((m) => m.id);

describe('LanceDB driver: approximate index', () => {
  const uri = path.join(dir, 'clustered');
  let index: VectorIndex;
  beforeAll(async () => {
    index = await open(uri, ANN);
    await index.upsert(records(0, 1500), { model: MODEL });
    await index.persist();
    expect(await vectorIndices(uri), 'below minRows: exact search, no index').toHaveLength(0);
    await index.upsert(records(1500, ROWS), { model: MODEL });
    await index.persist();
  }, 60_000);
  afterAll(() => index.close());

  it('builds the default index (IVF-HNSW-SQ) once the table reaches minRows', async () => {
    const built = await vectorIndices(uri);
    expect(built.map((i) => i.indexType)).toEqual(['IvfHnswSq']);
    expect(logged[0]).toMatch(/^building the approximate search index \(ivf-hnsw-sq\) over 3,000 images/);
    expect(logged[1]).toMatch(/^approximate search index built in \d+\.\d s$/);
  });

  it('returns a stored vector as its own top 1 with cosine 1 (refined scores are exact)', async () => {
    for (const i of [0, 17, 1499, 1500, 2999]) {
      const [top] = await index.query(data.points[i]!, { topK: 10 });
      expect(top!.id).toBe(`p${i}`);
      expect(top!.score).toBeCloseTo(1, 4);
    }
  });

  it('finds nearly all of the exact top 10 for image and text-like queries', async () => {
    for (const queries of [data.imageQueries, data.textQueries]) {
      let found = 0;
      for (const q of queries) {
        const got = (await index.query(q, { topK: 10 })).map((m) => m.id);
        const exact = exactTop(q, 10);
        found += got.filter((id) => exact.includes(id)).length;
      }
      expect(found / (queries.length * 10)).toBeGreaterThanOrEqual(0.9);
    }
  });

  it('opened with another index type than the one built: keeps the built index and tunes queries for it', async () => {
    logged.length = 0;
    const other = await open(uri, { ...ANN, type: 'ivf-flat' });
    try {
      expect(logged.join('\n')).toMatch(/approximate index is ivf-hnsw-sq, not the ivf-flat asked for: it is kept/);
      let found = 0;
      for (const q of data.textQueries) {
        const exact = exactTop(q, 10);
        found += (await other.query(q, { topK: 10 })).filter((m) => exact.includes(m.id)).length;
      }
      expect(found / (data.textQueries.length * 10), 'still re-ranked as an HNSW-SQ index needs').toBeGreaterThanOrEqual(0.9);
      await other.persist();
      expect((await vectorIndices(uri)).map((i) => i.indexType)).toEqual(['IvfHnswSq']);
    } finally {
      await other.close();
    }
  });

  it('ann: false searches exactly, bypassing an index built earlier', async () => {
    const exactIndex = await open(uri, false);
    try {
      for (const q of data.textQueries.slice(0, 5)) expect((await exactIndex.query(q, { topK: 10 })).map((m) => m.id)).toEqual(exactTop(q, 10));
    } finally {
      await exactIndex.close();
    }
  });

  it('reuses the persisted index after reopening, and adds new rows to it on persist()', async () => {
    const before = indexFiles(uri);
    const again = await open(uri, ANN);
    try {
      await again.persist();
      expect(indexFiles(uri)).toEqual(before);
      const [top] = await again.query(data.points[42]!, { topK: 1 });
      expect(top!.id).toBe('p42');
      const extra = { id: 'extra', vector: data.imageQueries[0]!, metadata: {} };
      await again.upsert([extra], { model: MODEL });
      await again.persist();
      expect((await vectorIndices(uri)).map((i) => i.indexType)).toEqual(['IvfHnswSq']);
      const [hit] = await again.query(extra.vector, { topK: 1 });
      expect(hit!.id).toBe('extra');
    } finally {
      await again.close();
    }
  });
});

describe('LanceDB driver: approximate-index options', () => {
  it('type ivf-pq with partitions, subVectors, nprobes and refineFactor: stored vectors are their own top 1', async () => {
    const uri = path.join(dir, 'pq');
    const index = await open(uri, { type: 'ivf-pq', minRows: 1000, partitions: 8, subVectors: 8, nprobes: 8, refineFactor: 20 });
    try {
      await index.upsert(records(0, 1000), { model: MODEL });
      await index.persist();
      expect((await vectorIndices(uri)).map((i) => i.indexType)).toEqual(['IvfPq']);
      for (const i of [3, 500, 999]) expect((await index.query(data.points[i]!, { topK: 3 }))[0]).toMatchObject({ id: `p${i}`, score: expect.closeTo(1, 4) });
    } finally {
      await index.close();
    }
  });

  it('filters with the index built: only matching rows, nearly all of the exact filtered top 10', async () => {
    const uri = path.join(dir, 'filtered');
    const half = (i: number) => (i % 2 ? 'odd' : 'even');
    const index = await createLanceDbIndex({ uri, model: MODEL, dim: DIM, fields: { half: 'string' }, ann: { minRows: 1000 } });
    try {
      await index.upsert(data.points.slice(0, 2000).map((vector, i) => ({ id: `p${i}`, vector, metadata: { half: half(i) } })), { model: MODEL });
      await index.persist();
      expect((await vectorIndices(uri)).map((i) => i.indexType)).toEqual(['IvfHnswSq']);
      let found = 0;
      for (const q of data.textQueries) {
        const got = await index.query(q, { topK: 10, filter: { half: 'even' }, includeMetadata: true });
        expect(got).toHaveLength(10);
        expect(got.every((m) => m.metadata?.half === 'even')).toBe(true);
        const exactEven = data.points.slice(0, 2000).map((p, i) => ({ id: `p${i}`, s: cosine(p, q) })).filter((m) => Number(m.id.slice(1)) % 2 === 0).sort((a, b) => b.s - a.s).slice(0, 10).map((m) => m.id);
        found += got.filter((m) => exactEven.includes(m.id)).length;
      }
      expect(found / (data.textQueries.length * 10)).toBeGreaterThanOrEqual(0.9);
    } finally {
      await index.close();
    }
  });

  it('a setting given as undefined keeps its default (no index below 100,000 rows)', async () => {
    const uri = path.join(dir, 'undefined-settings');
    const index = await open(uri, { minRows: undefined, type: undefined, refineFactor: undefined });
    try {
      await index.upsert(records(0, 300), { model: MODEL });
      await index.persist();
      expect(await vectorIndices(uri)).toHaveLength(0);
    } finally {
      await index.close();
    }
  });

  it('rejects the removed annMinRows option, naming its replacement', async () => {
    const uri = path.join(dir, 'never-created-2');
    await expect(createLanceDbIndex({ uri, model: MODEL, dim: DIM, annMinRows: 10 } as never)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/annMinRows was replaced by ann: \{ minRows \}/) });
  });

  it('ann: false on a table with a low-recall index (IVF-PQ, 128 partitions, coarse codes): exact answers, where the index\'s differ', async () => {
    // Uniform vectors are the worst case for IVF partitions (a query's neighbours lie in many of
    // them), so this index's approximate top 10 differs from the exact one, with its own settings
    // (1 partition probed, no re-ranking) and with the driver's defaults (20 of 128 probed, re-ranked
    // ×40) alike: only a query that really bypasses the index matches the brute-force ranking.
    const uri = path.join(dir, 'low-recall');
    const points = uniform(3000, DIM, 99);
    const queries = uniform(8, DIM, 100);
    const exact = (q: Float32Array) => points.map((p, i) => ({ id: `u${i}`, s: cosine(p, q) })).sort((a, b) => b.s - a.s).slice(0, 10);
    const overlap = async (index: VectorIndex) => {
      let found = 0;
      for (const q of queries) {
        const want = exact(q).map((m) => m.id);
        found += (await index.query(q, { topK: 10 })).filter((m) => want.includes(m.id)).length;
      }
      return found / (queries.length * 10);
    };
    const lowRecall = await open(uri, { type: 'ivf-pq', minRows: 1000, partitions: 128, subVectors: 4, nprobes: 1, refineFactor: 0 });
    try {
      await lowRecall.upsert(points.map((vector, i) => ({ id: `u${i}`, vector, metadata: {} })), { model: MODEL });
      await lowRecall.persist();
      expect((await vectorIndices(uri)).map((i) => i.indexType)).toEqual(['IvfPq']);
      expect(await overlap(lowRecall), 'the index as built answers approximately').toBeLessThan(0.5);
    } finally {
      await lowRecall.close();
    }
    const defaults = await open(uri, {});
    try {
      expect(await overlap(defaults), 'the default query settings on this index are still approximate').toBeLessThan(0.9);
    } finally {
      await defaults.close();
    }
    const exactIndex = await open(uri, false);
    try {
      for (const q of queries) {
        const got = await exactIndex.query(q, { topK: 10 });
        const want = exact(q);
        expect(got.map((m) => m.id)).toEqual(want.map((m) => m.id));
        got.forEach((m, i) => expect(m.score).toBeCloseTo(want[i]!.s, 5)); // exact cosines, not PQ estimates
      }
    } finally {
      await exactIndex.close();
    }
  });

  it('ann: false never builds an index', async () => {
    const uri = path.join(dir, 'exact');
    const index = await open(uri, false);
    try {
      await index.upsert(records(0, 300), { model: MODEL });
      await index.persist();
      expect(await vectorIndices(uri)).toHaveLength(0);
      const q = data.textQueries[3]!;
      expect((await index.query(q, { topK: 5 })).map((m) => m.id)).toEqual(exactTop(q, 5, 300));
    } finally {
      await index.close();
    }
  });

  it.each([
    [{ type: 'ivf-pq', minRows: 255 }, /ann\.minRows must be an integer ≥ 256, got 255/],
    [{ minRows: 0 }, /ann\.minRows must be an integer ≥ 1, got 0/],
    [{ nprobes: 2.5 }, /ann\.nprobes must be an integer ≥ 1, got 2\.5/],
    [{ refineFactor: -1 }, /ann\.refineFactor must be an integer ≥ 0, got -1/],
    [{ partitions: Number.NaN }, /ann\.partitions must be an integer ≥ 1, got NaN/],
    [{ type: 'hnsw' }, /ann\.type "hnsw" is not one of ivf-pq, ivf-hnsw-sq, ivf-flat/],
    [{ type: 'ivf-pq', subVectors: 5 }, /ann\.subVectors \(5\) must divide the dimension 64/],
    [{ subVectors: 8 }, /ann\.subVectors applies to type ivf-pq only/],
    [{ nprobe: 10 }, /ann\.nprobe is not a setting/],
    [true, /ann must be an object of index settings, or false/],
  ])('rejects ann %j with BAD_INPUT before opening anything', async (ann, message) => {
    const uri = path.join(dir, 'never-created');
    await expect(open(uri, ann as LanceDbAnnOptions)).rejects.toMatchObject({ name: 'ClipEdgeError', code: 'BAD_INPUT', message: expect.stringMatching(message) });
    expect(() => readdirSync(uri)).toThrow(/ENOENT/);
  });
});
