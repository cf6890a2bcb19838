// Cloudflare Vectorize through a Worker binding (`[[vectorize]]` in wrangler.toml). Vectorize has no
// local emulation, so tests run this driver against a stand-in that enforces the documented
// interface and limits (test/workers/vectorize-stand-in.ts). Documented limits
// (developers.cloudflare.com/vectorize/platform/limits/): upsert ≤ 1000 vectors per call from a
// Worker, topK ≤ 100 without values/metadata and ≤ 20 with, ids ≤ 64 bytes, metadata ≤ 10 KiB, a
// filter's compact JSON < 2048 bytes (…/reference/metadata-filtering/; $in lists ≤ 1024 values here),
// ≤ 10 metadata indexes (create one per filterable field BEFORE inserting vectors). Mutations are
// asynchronous: an upsert is visible to queries a few seconds later, and count() lags likewise.
import { ClipEdgeError } from '../../core/errors.ts';
import { mismatch, presentIds, toMatch } from '../driver-helpers.ts';
import type { IndexLimits, IndexOptions, Match, Metadata, VectorIndex } from '../types.ts';
import { type CheckedQuery, type CheckedRecord, type IndexDriver, openCheckedIndex } from '../checked-index.ts';

/** The part of Cloudflare's `Vectorize` binding type (@cloudflare/workers-types) this driver uses. */
export interface VectorizeBinding {
  upsert(vectors: { id: string; values: number[] | Float32Array; metadata?: Record<string, string | number | boolean> }[]): Promise<unknown>;
  query(
    vector: number[] | Float32Array,
    options: { topK: number; returnValues: boolean; returnMetadata: 'none' | 'indexed' | 'all'; filter?: Record<string, unknown> },
  ): Promise<{ matches: { id: string; score: number; metadata?: Record<string, string | number | boolean> }[]; count: number }>;
  getByIds(ids: string[]): Promise<{ id: string; metadata?: Record<string, string | number | boolean> }[]>;
  deleteByIds(ids: string[]): Promise<unknown>;
  describe(): Promise<{ dimensions: number; vectorCount: number }>;
}

export interface VectorizeIndexOptions extends IndexOptions {
  /** The binding, or its name in `env`. @defaultValue 'VECTORIZE' */
  binding?: VectorizeBinding | string;
  /** The Worker's env, when `binding` is a name. */
  env?: Record<string, unknown>;
}

// Metadata: 10 KiB less room for the model key this driver adds. The kit's $in/$nin bound is the
// other drivers' (Vectorize documents none beyond the filter's 2 KiB).
export const VECTORIZE_LIMITS: Readonly<IndexLimits> = Object.freeze({ maxBatch: 1000, maxTopK: 100, maxTopKWithMetadata: 20, maxMetadataBytes: 10 * 1024 - 128, maxFilterValues: 1024, maxFilterBytes: 2047 });
/** Metadata key holding the model of each vector: Vectorize keeps no index-level notes. */
export const MODEL_KEY = 'clip_edge_model';
const GET_CHUNK = 20;

function lookup(options: VectorizeIndexOptions): VectorizeBinding {
  const b = options.binding ?? 'VECTORIZE';
  const found = typeof b === 'string' ? options.env?.[b] : b;
  const ok = found && typeof found === 'object' && ['upsert', 'query', 'getByIds', 'deleteByIds', 'describe'].every((m) => typeof (found as Record<string, unknown>)[m] === 'function');
  if (!ok) {
    const name = typeof b === 'string' ? b : 'the given binding';
    throw new ClipEdgeError('INDEX_UNAVAILABLE', `${name} is not a Vectorize index binding (add [[vectorize]] binding = "${typeof b === 'string' ? b : 'VECTORIZE'}" to wrangler.toml)`);
  }
  return found as VectorizeBinding;
}

const withoutModel = (m: Record<string, string | number | boolean> | undefined): Metadata => {
  const { [MODEL_KEY]: _, ...rest } = m ?? {};
  return rest;
};

/** A Vectorize index over its Workers binding. */
export const createVectorizeIndex = (options: VectorizeIndexOptions): Promise<VectorIndex> => openCheckedIndex(options, vectorizeDriver);

async function vectorizeDriver(options: VectorizeIndexOptions): Promise<IndexDriver> {
  const vz = lookup(options);
  const space = { model: options.model, dim: options.dim };
  const info = await vz.describe();
  if (info.dimensions !== space.dim) throw mismatch({ model: '?', dim: info.dimensions }, space, 'the Vectorize index');
  if (info.vectorCount > 0) {
    // Any one vector tells which model filled the index.
    const [probe] = (await vz.query(new Array(space.dim).fill(1 / Math.sqrt(space.dim)), { topK: 1, returnValues: false, returnMetadata: 'all' })).matches;
    const stored = probe?.metadata?.[MODEL_KEY];
    if (typeof stored === 'string' && stored !== space.model) throw mismatch({ model: stored, dim: info.dimensions }, space, 'the Vectorize index');
  }
  const fields = { ...options.fields };
  const existing = (ids: string[]) => presentIds(ids, GET_CHUNK, async (chunk) => (await vz.getByIds(chunk)).map((v) => v.id));
  return {
    driver: 'cloudflare-vectorize-binding',
    space,
    fields,
    limits: VECTORIZE_LIMITS,
    async upsert(checked: readonly CheckedRecord[]) {
      if (checked.length) await vz.upsert(checked.map((r) => ({ id: r.id, values: Array.from(r.vector), metadata: { ...r.metadata, [MODEL_KEY]: space.model } })));
      return { upserted: checked.length };
    },
    async delete(ids: readonly string[]) {
      const found = [...(await existing([...ids]))];
      if (found.length) await vz.deleteByIds(found);
      return { deleted: found.length };
    },
    has: (ids: readonly string[]) => existing([...ids]),
    async query(q: CheckedQuery): Promise<Match[]> {
      const r = await vz.query(Array.from(q.vector), {
        topK: q.topK,
        returnValues: false,
        returnMetadata: q.includeMetadata ? 'all' : 'none',
        ...(q.filter ? { filter: q.filter as Record<string, unknown> } : {}),
      });
      return r.matches.map((m) => toMatch(m.id, m.score, q.includeMetadata, () => withoutModel(m.metadata)));
    },
    count: async () => (await vz.describe()).vectorCount,
    async persist() {},
    async close() {},
  };
}
