// An exact (flat) index in memory: every query scores every vector. Fine for thousands to ~100k
// vectors (bench/search.ts measures it); Web-standard, so the browser, tests and tools share it.
// Persistence is optional and pluggable (`store`), e.g. Cache Storage in the browser driver.
import { ClipEdgeError } from '../../core/errors.ts';
import { TOP_K } from '../../core/limits.ts';
import { mismatch, toMatch } from '../driver-helpers.ts';
import { topK } from '../top-k.ts';
import type { FieldType, IndexLimits, IndexOptions, Match, Metadata, VectorIndex } from '../types.ts';
import { type CheckedQuery, type CheckedRecord, type IndexDriver, openCheckedIndex } from '../checked-index.ts';
import { matchesFilter } from '../validate.ts';

/** Where a memory index keeps its snapshot between sessions (one blob). */
export interface SnapshotStore {
  read(): Promise<Uint8Array | undefined>;
  write(bytes: Uint8Array): Promise<void>;
}

export interface MemoryIndexOptions extends IndexOptions {
  /** Loaded on open, written by persist(). @defaultValue none: the index lives as long as the object */
  store?: SnapshotStore;
  /** Overrides of the limits. @defaultValue 1000 per upsert, topK ≤ 1000, metadata ≤ 10 KiB, filters ≤ 1024 $in/$nin values and 64 KiB */
  limits?: Partial<IndexLimits>;
  /** The driver name reported (drivers built on this one say theirs). @defaultValue 'memory' */
  driver?: string;
}

/**
 * The flat index's extras beyond {@link VectorIndex}: what a page needs to show and reuse its own
 * records (a gallery of its photos, "more like this one" by a stored vector).
 */
export interface FlatIndex extends VectorIndex {
  /** Every id with its metadata (a copy), in storage order (a delete moves the last record into the freed place). */
  list(): { id: string; metadata: Metadata }[];
  /** One record's stored (normalised) vector and metadata, copies; undefined for an unknown id. */
  get(id: string): { vector: Float32Array; metadata: Metadata } | undefined;
}

export const MEMORY_LIMITS: Readonly<IndexLimits> = Object.freeze({ maxBatch: 1000, maxTopK: TOP_K.max, maxTopKWithMetadata: TOP_K.max, maxMetadataBytes: 10 * 1024, maxFilterValues: 1024, maxFilterBytes: 64 * 1024 });
const FORMAT = 'clip-edge-flat-index/1';

interface Header {
  format: string;
  model: string;
  dim: number;
  fields: Record<string, FieldType>;
  ids: string[];
  metadata: Metadata[];
}

/** Snapshot layout: u32 header length (LE), the JSON header, zero padding to 4 bytes, then float32 rows. */
export function encodeSnapshot(h: Header, rows: Float32Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(h));
  const start = Math.ceil((4 + json.byteLength) / 4) * 4;
  const out = new Uint8Array(start + rows.byteLength);
  new DataView(out.buffer).setUint32(0, json.byteLength, true);
  out.set(json, 4);
  out.set(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength), start);
  return out;
}

export function decodeSnapshot(bytes: Uint8Array): { header: Header; rows: Float32Array } {
  const fail = (why: string) => new ClipEdgeError('INDEX_UNAVAILABLE', `the stored index cannot be read: ${why}`);
  if (bytes.byteLength < 4) throw fail('too short');
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + len))) as Header;
  } catch (cause) {
    throw new ClipEdgeError('INDEX_UNAVAILABLE', 'the stored index cannot be read: bad header', { cause });
  }
  if (header.format !== FORMAT) throw fail(`format "${String(header.format)}", expected ${FORMAT}`);
  const start = Math.ceil((4 + len) / 4) * 4;
  const floats = (bytes.byteLength - start) / 4;
  if (floats !== header.ids.length * header.dim) throw fail('its size does not match its header');
  const rows = new Float32Array(floats);
  new Uint8Array(rows.buffer).set(bytes.subarray(start));
  return { header, rows };
}

/** Dot products of `v` with the first `n` rows (row-major, `dim` wide): one tight loop, unrolled by 4. */
function dotAll(v: Float32Array, data: Float32Array, n: number, dim: number): Float32Array {
  const out = new Float32Array(n);
  const tail = dim - (dim % 4);
  for (let r = 0, o = 0; r < n; r++, o += dim) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    let i = 0;
    for (; i < tail; i += 4) {
      s0 += v[i]! * data[o + i]!;
      s1 += v[i + 1]! * data[o + i + 1]!;
      s2 += v[i + 2]! * data[o + i + 2]!;
      s3 += v[i + 3]! * data[o + i + 3]!;
    }
    for (; i < dim; i++) s0 += v[i]! * data[o + i]!;
    out[r] = s0 + s1 + s2 + s3;
  }
  return out;
}

/** An index in memory (optionally snapshotted to a store): exact cosine search over every row. */
export const createMemoryIndex = (options: MemoryIndexOptions): Promise<FlatIndex> => openCheckedIndex(options, memoryDriver);

async function memoryDriver(options: MemoryIndexOptions) {
  const space = { model: options.model, dim: options.dim };
  const fields = { ...options.fields };
  const limits = { ...MEMORY_LIMITS, ...options.limits };
  const dim = space.dim;
  let ids: string[] = [];
  let metadata: Metadata[] = [];
  let rows = new Float32Array(dim * 64);
  const rowOf = new Map<string, number>();

  const stored = await options.store?.read();
  if (stored) {
    const { header, rows: r } = decodeSnapshot(stored);
    if (header.model !== space.model || header.dim !== dim) throw mismatch(header, space, 'the stored index');
    ids = header.ids;
    metadata = header.metadata;
    rows = new Float32Array(Math.max(r.length, dim * 64));
    rows.set(r);
    ids.forEach((id, i) => rowOf.set(id, i));
    // Fields declared now may add to the stored ones; a changed type would make old filters lie.
    for (const [k, t] of Object.entries(header.fields)) {
      if (Object.hasOwn(fields, k) && fields[k] !== t) throw new ClipEdgeError('INDEX_MISMATCH', `field "${k}" is stored as ${t}, not ${fields[k]}`);
      fields[k] = t;
    }
  }

  const ensure = (n: number) => {
    if (n * dim <= rows.length) return;
    const grown = new Float32Array(Math.max(n * dim, rows.length * 2));
    grown.set(rows);
    rows = grown;
  };
  const index = {
    driver: options.driver ?? 'memory',
    space,
    fields,
    limits,
    async upsert(checked: readonly CheckedRecord[]) {
      ensure(ids.length + checked.length);
      for (const r of checked) {
        let row = rowOf.get(r.id);
        if (row === undefined) {
          row = ids.length;
          ids.push(r.id);
          metadata.push(r.metadata);
          rowOf.set(r.id, row);
        } else metadata[row] = r.metadata;
        rows.set(r.vector, row * dim);
      }
      return { upserted: checked.length };
    },
    async delete(list: readonly string[]) {
      let deleted = 0;
      for (const id of list) {
        const row = rowOf.get(id);
        if (row === undefined) continue;
        // Swap-remove: the last row takes the freed place.
        const last = ids.length - 1;
        if (row !== last) {
          ids[row] = ids[last]!;
          metadata[row] = metadata[last]!;
          rows.copyWithin(row * dim, last * dim, (last + 1) * dim);
          rowOf.set(ids[row]!, row);
        }
        ids.pop();
        metadata.pop();
        rowOf.delete(id);
        deleted++;
      }
      return { deleted };
    },
    async has(list: readonly string[]) {
      return new Set(list.filter((id) => rowOf.has(id)));
    },
    async query(q: CheckedQuery): Promise<Match[]> {
      const filter = q.filter;
      const scores = dotAll(q.vector, rows, ids.length, dim);
      const best = topK(ids.length, q.topK, (r) => scores[r]!, filter ? (r) => matchesFilter(metadata[r]!, filter) : undefined);
      return best.map(({ row, score }) => toMatch(ids[row]!, score, q.includeMetadata, () => ({ ...metadata[row]! })));
    },
    async count() {
      return ids.length;
    },
    list: (): { id: string; metadata: Metadata }[] => ids.map((id, i) => ({ id, metadata: { ...metadata[i]! } })),
    get(id: string): { vector: Float32Array; metadata: Metadata } | undefined {
      const row = rowOf.get(id);
      return row === undefined ? undefined : { vector: rows.slice(row * dim, (row + 1) * dim), metadata: { ...metadata[row]! } };
    },
    async persist() {
      if (!options.store) return;
      await options.store.write(encodeSnapshot({ format: FORMAT, model: space.model, dim, fields, ids, metadata }, rows.subarray(0, ids.length * dim)));
    },
    async close() {},
  } satisfies IndexDriver & Pick<FlatIndex, 'list' | 'get'>;
  return index;
}
