// The one contract every vector-index driver passes (unstorage's testDriver shape). Runtime-neutral:
// plain async cases with their own assertions, so the same file runs under vitest in Node and workerd,
// and as a plain script in Deno, Bun and Chromium. Expected answers come from a brute-force cosine
// ranking written here, independently of the drivers.
import type { IndexOptions, Metadata, VectorIndex } from '../../src/search/types.ts';

/** Opens a driver's index on storage `key`: the same key reopens the same storage. */
export type OpenIndex = (options: IndexOptions, key: string) => Promise<VectorIndex>;

export interface ContractCase {
  name: string;
  run(): Promise<void>;
}

const DIM = 16;
const MODEL = 'contract-model';
const FIELDS = { label: 'string', size: 'number', seen: 'boolean' } as const;

class ContractFailure extends Error {}
function ok(cond: unknown, message: string): asserts cond {
  if (!cond) throw new ContractFailure(message);
}
const eq = (a: unknown, b: unknown, what: string) => ok(JSON.stringify(a) === JSON.stringify(b), `${what}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
const near = (a: number, b: number, what: string, tol = 1e-4) => ok(Math.abs(a - b) <= tol, `${what}: expected ${b}, got ${a}`);

/** Rejects with a ClipEdgeError of `code` whose message mentions `words` (checked by name: bundles may hold two copies of the class). */
async function rejects(p: Promise<unknown>, code: string, words: RegExp, what: string): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  ok(err, `${what}: expected a ${code} error, got success`);
  const e = err as { name?: string; code?: string; message?: string };
  ok(e.name === 'ClipEdgeError' && e.code === code, `${what}: expected ClipEdgeError ${code}, got ${e.name} ${e.code}: ${e.message}`);
  ok(words.test(e.message ?? ''), `${what}: message "${e.message}" does not match ${words}`);
}

/** Deterministic pseudo-random vectors (not normalised: drivers normalise, scores are cosines). */
function vector(seed: number, dim = DIM): number[] {
  let s = seed * 2654435761 + 1;
  return Array.from({ length: dim }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
}
const cosine = (a: number[], b: number[]) => {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return d / Math.sqrt(na * nb);
};

interface Item {
  id: string;
  vector: number[];
  metadata: Metadata;
}
const LABELS = ['cat', 'dog', "bird's nest", 'cat'];
const items = (n: number, offset = 0): Item[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `img-${i + offset}`,
    vector: vector(i + offset + 1),
    metadata: { label: LABELS[(i + offset) % 4]!, size: (i + offset) * 10, seen: (i + offset) % 2 === 0, file: `photos/${i + offset}.jpg` },
  }));

/** The reference answer: brute-force cosine ranking over `pool`. */
function expected(pool: Item[], q: number[], k: number, keep: (m: Metadata) => boolean = () => true) {
  return pool.filter((x) => keep(x.metadata)).map((x) => ({ id: x.id, score: cosine(q, x.vector) })).sort((a, b) => b.score - a.score).slice(0, k);
}

async function sameRanking(index: VectorIndex, pool: Item[], q: number[], k: number, what: string, filter?: Parameters<VectorIndex['query']>[1], keep?: (m: Metadata) => boolean) {
  const got = await index.query(q, { topK: k, ...filter });
  const want = expected(pool, q, k, keep);
  eq(got.map((m) => m.id), want.map((m) => m.id), `${what}: ids best first`);
  got.forEach((m, i) => near(m.score, want[i]!.score, `${what}: score of ${m.id}`));
  return got;
}

export function indexContract(open: OpenIndex, prefix = `c${Date.now().toString(36)}`): ContractCase[] {
  let n = 0;
  const fresh = (o: Partial<IndexOptions> = {}) => {
    const key = `${prefix}-${++n}`;
    const options = { model: MODEL, dim: DIM, fields: FIELDS, ...o };
    return { key, options, index: open(options, key) };
  };
  const filled = async (count = 12) => {
    const f = fresh();
    const index = await f.index;
    const pool = items(count);
    await index.upsert(pool, { model: MODEL });
    return { ...f, index, pool };
  };

  return [
    {
      name: 'upsert then query: nearest first, cosine scores, metadata back, count',
      async run() {
        const { index, pool } = await filled();
        eq(await index.count(), pool.length, 'count');
        const got = await sameRanking(index, pool, vector(100), 5, 'top-5');
        const first = pool.find((x) => x.id === got[0]!.id)!;
        eq(got[0]!.metadata, first.metadata, 'metadata of the best match');
        // A stored vector finds itself with score 1.
        const self = await index.query(pool[3]!.vector, { topK: 1 });
        eq(self[0]!.id, pool[3]!.id, 'self match');
        near(self[0]!.score, 1, 'self score');
        eq(await index.query(vector(100), { topK: pool.length + 5 }).then((r) => r.length), pool.length, 'topK larger than the index returns everything');
      },
    },
    {
      name: 'upsert replaces a whole record (vector and metadata), keeps the count',
      async run() {
        const { index, pool } = await filled();
        const moved = { id: pool[0]!.id, vector: vector(999), metadata: { label: 'moved', size: 1, seen: false } };
        await index.upsert([moved], { model: MODEL });
        eq(await index.count(), pool.length, 'count after replacing');
        const r = await index.query(vector(999), { topK: 1 });
        eq(r[0]!.id, moved.id, 'the new vector is found');
        eq(r[0]!.metadata, moved.metadata, 'metadata replaced, not merged');
        await sameRanking(index, [moved, ...pool.slice(1)], vector(7), 4, 'ranking after the replace');
      },
    },
    {
      name: 'delete removes records, ignores unknown ids and says how many existed; has() lists present ids',
      async run() {
        const { index, pool } = await filled();
        eq(await index.delete([pool[1]!.id, pool[2]!.id, 'never-there']), { deleted: 2 }, 'delete result');
        eq(await index.count(), pool.length - 2, 'count after delete');
        const left = pool.filter((_, i) => i !== 1 && i !== 2);
        await sameRanking(index, left, vector(3), left.length, 'ranking after delete');
        const has = await index.has([pool[0]!.id, pool[1]!.id, 'never-there']);
        eq([...has].sort(), [pool[0]!.id], 'has()');
        eq(await index.delete([]), { deleted: 0 }, 'empty delete');
      },
    },
    {
      name: 'metadata filters: equality, $ne, $in, $nin, ranges, booleans (ANDed), applied before topK',
      async run() {
        const { index, pool } = await filled(24);
        const q = vector(55);
        await sameRanking(index, pool, q, 5, 'implicit $eq', { filter: { label: 'cat' } }, (m) => m.label === 'cat');
        await sameRanking(index, pool, q, 3, 'quote in a string value', { filter: { label: { $eq: "bird's nest" } } }, (m) => m.label === "bird's nest");
        await sameRanking(index, pool, q, 5, '$ne', { filter: { label: { $ne: 'cat' } } }, (m) => m.label !== 'cat');
        await sameRanking(index, pool, q, 5, '$in', { filter: { label: { $in: ['dog', "bird's nest"] } } }, (m) => m.label === 'dog' || m.label === "bird's nest");
        await sameRanking(index, pool, q, 5, '$nin', { filter: { label: { $nin: ['cat'] } } }, (m) => m.label !== 'cat');
        await sameRanking(index, pool, q, 5, 'range', { filter: { size: { $gte: 50, $lt: 150 } } }, (m) => (m.size as number) >= 50 && (m.size as number) < 150);
        await sameRanking(index, pool, q, 5, 'boolean AND string', { filter: { seen: true, label: 'cat' } }, (m) => m.seen === true && m.label === 'cat');
        eq(await index.query(q, { topK: 5, filter: { label: 'zebra' } }), [], 'no match');
      },
    },
    {
      name: 'includeMetadata: false returns ids and scores only',
      async run() {
        const { index } = await filled();
        const r = await index.query(vector(5), { topK: 3, includeMetadata: false });
        eq(r.length, 3, 'matches');
        ok(r.every((m) => m.metadata === undefined), 'no metadata');
      },
    },
    {
      name: 'topK within the driver\'s documented limits; beyond them a clear BAD_INPUT',
      async run() {
        const { index } = await filled(3);
        const l = index.limits;
        await index.query(vector(1), { topK: l.maxTopKWithMetadata });
        await index.query(vector(1), { topK: l.maxTopK, includeMetadata: false });
        await rejects(index.query(vector(1), { topK: l.maxTopKWithMetadata + 1 }), 'BAD_INPUT', /topK/, 'topK over the metadata limit');
        await rejects(index.query(vector(1), { topK: l.maxTopK + 1, includeMetadata: false }), 'BAD_INPUT', /topK/, 'topK over the limit');
        await rejects(index.query(vector(1), { topK: 0 }), 'BAD_INPUT', /topK/, 'topK 0');
      },
    },
    {
      name: 'persist, then reopening the same storage gives the same answers',
      async run() {
        const { index, pool, key, options } = await filled();
        await index.persist();
        const before = await index.query(vector(42), { topK: 4 });
        await index.close();
        const again = await open(options, key);
        eq(await again.count(), pool.length, 'count after reopen');
        const after = await again.query(vector(42), { topK: 4 });
        eq(after.map((m) => [m.id, m.metadata]), before.map((m) => [m.id, m.metadata]), 'same matches');
        after.forEach((m, i) => near(m.score, before[i]!.score, 'same scores', 1e-5));
        await again.close();
      },
    },
    {
      name: 'reopening with another model or size: INDEX_MISMATCH, nothing lost',
      async run() {
        const { index, pool, key, options } = await filled(4);
        await index.persist();
        await index.close();
        await rejects(open({ ...options, model: 'another-model' }, key), 'INDEX_MISMATCH', /another-model/, 'other model');
        await rejects(open({ ...options, dim: DIM * 2 }, key), 'INDEX_MISMATCH', /dimensional/, 'other size');
        const again = await open(options, key);
        eq(await again.count(), pool.length, 'still there');
        await again.close();
      },
    },
    {
      name: 'bad input: wrong dimension, another model\'s vectors for an existing id, empty query, unknown filter field — clear errors, nothing written',
      async run() {
        const { index, pool } = await filled(4);
        await rejects(index.upsert([{ id: 'x', vector: vector(1, DIM + 1) }], { model: MODEL }), 'BAD_INPUT', /17 dimensions.*16-dimensional/, 'wrong dimension');
        await rejects(
          index.upsert([{ id: pool[0]!.id, vector: vector(77), metadata: { label: 'other' } }], { model: 'another-model' }),
          'INDEX_MISMATCH',
          /another-model/,
          "an existing id with another model's vector",
        );
        await rejects(index.query([], { topK: 3 }), 'BAD_INPUT', /empty/, 'empty query');
        await rejects(index.query(vector(1, 3)), 'BAD_INPUT', /3 dimensions/, 'query of the wrong size');
        await rejects(index.query(vector(1), { filter: { colour: 'red' } }), 'BAD_INPUT', /unknown field "colour".*label/, 'filter on an unknown field');
        await rejects(index.query(vector(1), { filter: { size: 'big' } }), 'BAD_INPUT', /size.*number/, 'filter value of the wrong type');
        await rejects(index.query(vector(1), { filter: { label: { $like: 'c%' } as never } }), 'BAD_INPUT', /operator/, 'unknown operator');
        await rejects(index.upsert([{ id: 'n', vector: vector(1).map((v, i) => (i ? v : NaN)) }], { model: MODEL }), 'BAD_INPUT', /non-finite/, 'NaN');
        await rejects(index.upsert([{ id: 'z', vector: new Array(DIM).fill(0) }], { model: MODEL }), 'BAD_INPUT', /zeros/, 'zero vector');
        await rejects(index.upsert([{ id: 'x'.repeat(65), vector: vector(1) }], { model: MODEL }), 'BAD_INPUT', /64 bytes/, 'id too long');
        await rejects(index.upsert([{ id: 'd', vector: vector(1) }, { id: 'd', vector: vector(2) }], { model: MODEL }), 'BAD_INPUT', /twice/, 'duplicate id in a batch');
        await rejects(index.upsert([{ id: 'm', vector: vector(1), metadata: { size: 'big' } }], { model: MODEL }), 'BAD_INPUT', /size.*number/, 'metadata of the wrong type');
        await rejects(index.upsert([{ id: 'm', vector: vector(1), metadata: { 'a.b': 1 } }], { model: MODEL }), 'BAD_INPUT', /not allowed/, 'metadata key with a dot');
        await rejects(index.upsert([{ id: 'm', vector: vector(1), metadata: { note: 'x'.repeat(index.limits.maxMetadataBytes) } }], { model: MODEL }), 'BAD_INPUT', /bytes/, 'metadata too large');
        // A batch with one bad record writes none of them.
        await rejects(index.upsert([{ id: 'good', vector: vector(5) }, { id: 'bad', vector: vector(5, 2) }], { model: MODEL }), 'BAD_INPUT', /dimensions/, 'mixed batch');
        eq(await index.count(), pool.length, 'nothing was written');
        eq([...(await index.has(['good', 'x', 'd']))], [], 'no bad record stored');
        const r = await index.query(pool[0]!.vector, { topK: 1 });
        eq([r[0]!.id, r[0]!.metadata], [pool[0]!.id, pool[0]!.metadata], 'the existing record is unchanged');
      },
    },
    {
      name: 'batches up to the documented size; one more is refused',
      async run() {
        const f = fresh();
        const index = await f.index;
        const max = Math.min(index.limits.maxBatch, 1000);
        const big = Array.from({ length: max }, (_, i) => ({ id: `b${i}`, vector: vector(i + 7) }));
        eq(await index.upsert(big, { model: MODEL }), { upserted: max }, 'a full batch');
        eq(await index.count(), max, 'count');
        if (index.limits.maxBatch <= 1000) {
          const over = Array.from({ length: max + 1 }, (_, i) => ({ id: `o${i}`, vector: vector(i + 7) }));
          await rejects(index.upsert(over, { model: MODEL }), 'BAD_INPUT', /at most/, 'an oversized batch');
        }
      },
    },
    {
      name: 'keys named like Object.prototype members (constructor, toString, hasOwnProperty) are ordinary keys; __proto__ is refused',
      async run() {
        const index = await fresh({ fields: { constructor: 'string', toString: 'number' } as const }).index;
        const odd = { constructor: 'c1', toString: 7, hasOwnProperty: true, valueOf: 'v' };
        await index.upsert([{ id: 'o1', vector: vector(1), metadata: odd }, { id: 'o2', vector: vector(2), metadata: { constructor: 'c2', toString: 8 } }], { model: MODEL });
        const [m] = await index.query(vector(1), { topK: 1 });
        eq(m!.metadata, odd, 'metadata back as stored');
        eq((await index.query(vector(1), { topK: 5, filter: { constructor: 'c2' } })).map((x) => x.id), ['o2'], 'filter on a field named constructor');
        eq((await index.query(vector(1), { topK: 5, filter: { toString: { $gte: 8 } } })).map((x) => x.id), ['o2'], 'filter on a field named toString');
        const plain = await fresh().index;
        await rejects(plain.query(vector(1), { filter: { constructor: 'x' } }), 'BAD_INPUT', /unknown field "constructor"/, 'an undeclared field named constructor');
        await rejects(plain.query(vector(1), { filter: { hasOwnProperty: { $eq: 'x' } } }), 'BAD_INPUT', /unknown field "hasOwnProperty"/, 'an undeclared field named hasOwnProperty');
        eq(await plain.upsert([{ id: 'p', vector: vector(1), metadata: { toString: 'any type: not a declared field' } }], { model: MODEL }), { upserted: 1 }, 'an undeclared key named toString');
        await rejects(plain.upsert([{ id: 'q', vector: vector(1), metadata: JSON.parse('{"__proto__": "x"}') as Metadata }], { model: MODEL }), 'BAD_INPUT', /__proto__/, 'a __proto__ key');
        eq(await plain.count(), 1, 'nothing more written');
      },
    },
    {
      name: 'filters are bounded: $in/$nin values and filter bytes beyond the documented limits are refused before any work',
      async run() {
        const { index, pool } = await filled(8);
        const l = index.limits;
        // The probe that raised a server's memory to ~1 GB: 200,000 numbers in one $in.
        await rejects(index.query(vector(1), { filter: { size: { $in: Array.from({ length: 200_000 }, (_, i) => i) } } }), 'BAD_INPUT', new RegExp(`at most ${l.maxFilterValues}`), '200,000 values');
        const half = Math.ceil((l.maxFilterValues + 1) / 2);
        await rejects(
          index.query(vector(1), { filter: { size: { $in: Array.from({ length: half }, (_, i) => i) }, label: { $nin: Array.from({ length: half }, (_, i) => `l${i}`) } } }),
          'BAD_INPUT',
          new RegExp(`at most ${l.maxFilterValues} in all`),
          'values over the limit across two lists',
        );
        await rejects(index.query(vector(1), { filter: { label: { $in: ['x'.repeat(l.maxFilterBytes)] } } }), 'BAD_INPUT', new RegExp(`at most ${l.maxFilterBytes}`), 'a filter over the byte limit');
        // At the limits: answered.
        const atLimit = Array.from({ length: l.maxFilterValues }, (_, i) => i * 10);
        if (JSON.stringify({ size: { $in: atLimit } }).length <= l.maxFilterBytes) {
          await sameRanking(index, pool, vector(3), 8, '$in with the most values allowed', { filter: { size: { $in: atLimit } } }, (m) => atLimit.includes(m.size as number));
        }
        const word = 'x'.repeat(l.maxFilterBytes - JSON.stringify({ label: { $in: [''] } }).length);
        eq(await index.query(vector(1), { filter: { label: { $in: [word] } } }), [], 'a filter of exactly the byte limit');
      },
    },
    {
      name: 'an empty index answers queries with no matches',
      async run() {
        const index = await fresh().index;
        eq(await index.count(), 0, 'count');
        eq(await index.query(vector(1)), [], 'no matches');
      },
    },
  ];
}
