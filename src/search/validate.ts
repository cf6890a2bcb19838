// Input checks every driver shares, so that the same bad input gets the same error on every runtime.
// They follow Vectorize's documented rules (id ≤ 64 bytes, metadata ≤ 10 KiB, key syntax), the
// strictest of the drivers, so an index built on one machine can move to Cloudflare unchanged.
// Keys that clients send are looked up as own properties only (Object.hasOwn): "constructor" or
// "toString" are ordinary names, never Object.prototype's members.
import { ClipEdgeError } from '../core/errors.ts';
import { TOP_K } from '../core/limits.ts';
import type { FieldType, Filter, IndexLimits, IndexOptions, Metadata, MetadataValue, QueryOptions, VectorRecord } from './types.ts';

export const MAX_ID_BYTES = 64;
export const DEFAULT_TOP_K = TOP_K.search;
const utf8 = new TextEncoder();
const OPS = new Set(['$eq', '$ne', '$lt', '$lte', '$gt', '$gte', '$in', '$nin']);

const bad = (message: string) => new ClipEdgeError('BAD_INPUT', message);

export function checkOptions(o: IndexOptions): void {
  if (typeof o.model !== 'string' || !o.model) throw bad('the index needs the model id of its vectors');
  if (!Number.isInteger(o.dim) || o.dim < 1) throw bad(`the index dimension must be a positive integer, got ${String(o.dim)}`);
  for (const [k, t] of Object.entries(o.fields ?? {})) {
    // Filterable fields become columns or metadata indexes: plain identifiers only.
    if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(k)) throw bad(`filterable field "${k}" must be a plain name (a letter, then letters, digits or _)`);
    if (t !== 'string' && t !== 'number' && t !== 'boolean') throw bad(`field "${k}" has type "${String(t)}": use string, number or boolean`);
  }
}

/** The type of a declared filterable field, or undefined (never a member of Object.prototype). */
const fieldType = (fields: Readonly<Record<string, FieldType>>, k: string): FieldType | undefined => (Object.hasOwn(fields, k) ? fields[k] : undefined);

function checkKey(k: string): void {
  if (!k || k.includes('.') || k.includes('"') || k.startsWith('$')) {
    throw bad(`metadata key "${k}" is not allowed (keys are non-empty, without "." or '"', and do not start with "$")`);
  }
  // Assigned as a key it would replace an object's prototype in JavaScript clients (and JSON parsers
  // built on assignment drop it silently): refused rather than stored half the time.
  if (k === '__proto__') throw bad('metadata key "__proto__" is not allowed (it sets an object\'s prototype in JavaScript)');
}

export function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) throw bad('every record needs a non-empty string id');
  if (utf8.encode(id).byteLength > MAX_ID_BYTES) throw bad(`id "${id.slice(0, 20)}…" is longer than ${MAX_ID_BYTES} bytes`);
}

/** A finite, non-zero vector of the index's size, as float32 and L2-normalised (cosine on every driver). */
export function checkVector(v: unknown, dim: number, what: string): Float32Array {
  if (!(v instanceof Float32Array) && !Array.isArray(v)) throw bad(`${what} must be an array of numbers`);
  if (v.length === 0) throw bad(`${what} is empty`);
  if (v.length !== dim) throw bad(`${what} has ${v.length} dimensions; the index holds ${dim}-dimensional vectors`);
  const out = Float32Array.from(v as ArrayLike<number>);
  let norm = 0;
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]!)) throw bad(`${what} has a non-finite value at ${i}`);
    norm += out[i]! * out[i]!;
  }
  if (!(norm > 0) || !Number.isFinite(norm)) throw bad(`${what} is all zeros (it has no direction to compare)`);
  const inv = 1 / Math.sqrt(norm);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! * inv;
  return out;
}

const typeOf = (v: unknown): FieldType | undefined =>
  typeof v === 'string' ? 'string' : typeof v === 'number' && Number.isFinite(v) ? 'number' : typeof v === 'boolean' ? 'boolean' : undefined;

export function checkMetadata(m: unknown, fields: Readonly<Record<string, FieldType>>, limits: IndexLimits): Metadata {
  if (m === undefined) return {};
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw bad('metadata must be an object of strings, numbers and booleans');
  for (const [k, v] of Object.entries(m)) {
    checkKey(k);
    const t = typeOf(v);
    if (!t) throw bad(`metadata "${k}" must be a string, a finite number or a boolean`);
    const want = fieldType(fields, k);
    if (want && want !== t) throw bad(`metadata "${k}" must be a ${want} (a filterable field), got ${t}`);
  }
  const bytes = utf8.encode(JSON.stringify(m)).byteLength;
  if (bytes > limits.maxMetadataBytes) throw bad(`metadata is ${bytes} bytes; at most ${limits.maxMetadataBytes}`);
  return m as Metadata;
}

export interface CheckedRecord {
  id: string;
  vector: Float32Array;
  metadata: Metadata;
}

/** Checks a whole batch before anything is written: a bad record fails the call and nothing is stored. */
export function checkRecords(
  records: readonly VectorRecord[],
  model: string,
  index: { space: { model: string; dim: number }; fields: Readonly<Record<string, FieldType>>; limits: IndexLimits },
): CheckedRecord[] {
  if (!Array.isArray(records)) throw bad('upsert takes an array of records');
  if (model !== index.space.model) {
    throw new ClipEdgeError('INDEX_MISMATCH', `vectors of model "${model}" cannot go into an index of "${index.space.model}" vectors (another embedding space)`, {
      details: { indexModel: index.space.model, model },
    });
  }
  if (records.length > index.limits.maxBatch) throw bad(`at most ${index.limits.maxBatch} records per upsert, got ${records.length}`);
  const seen = new Set<string>();
  return records.map((r, i) => {
    if (r === null || typeof r !== 'object') throw bad(`record ${i} is not an object`);
    checkId(r.id);
    if (seen.has(r.id)) throw bad(`id "${r.id}" appears twice in one upsert`);
    seen.add(r.id);
    return { id: r.id, vector: checkVector(r.vector, index.space.dim, `the vector of "${r.id}"`), metadata: checkMetadata(r.metadata, index.fields, index.limits) };
  });
}

export function checkIds(ids: readonly string[]): string[] {
  if (!Array.isArray(ids)) throw bad('give an array of ids');
  ids.forEach(checkId);
  return [...new Set(ids)];
}

export interface CheckedQuery {
  vector: Float32Array;
  topK: number;
  filter: Filter | undefined;
  includeMetadata: boolean;
}

export function checkQuery(
  vector: unknown,
  options: QueryOptions | undefined,
  index: { space: { dim: number }; fields: Readonly<Record<string, FieldType>>; limits: IndexLimits },
): CheckedQuery {
  const v = checkVector(vector, index.space.dim, 'the query vector');
  return { vector: v, ...checkQueryOptions(options, index) };
}

/** topK, includeMetadata and the filter of a query, checked before its vector exists (so before a query is embedded). */
export function checkQueryOptions(
  options: QueryOptions | undefined,
  index: { fields: Readonly<Record<string, FieldType>>; limits: IndexLimits },
): Omit<CheckedQuery, 'vector'> {
  const topK = options?.topK ?? DEFAULT_TOP_K;
  const includeMetadata = options?.includeMetadata ?? true;
  const max = includeMetadata ? index.limits.maxTopKWithMetadata : index.limits.maxTopK;
  if (!Number.isInteger(topK) || topK < 1 || topK > max) {
    throw bad(`topK must be an integer from 1 to ${max}${includeMetadata && max < index.limits.maxTopK ? ` when metadata is returned (${index.limits.maxTopK} without)` : ''}, got ${String(topK)}`);
  }
  if (options?.filter !== undefined) checkFilter(options.filter, index.fields, index.limits);
  return { topK, filter: options?.filter && Object.keys(options.filter).length ? options.filter : undefined, includeMetadata };
}

export function checkFilter(filter: unknown, fields: Readonly<Record<string, FieldType>>, limits: Pick<IndexLimits, 'maxFilterValues' | 'maxFilterBytes'>): asserts filter is Filter {
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) throw bad('filter must be an object {field: value | {$op: value}}');
  let values = 0;
  for (const [field, cond] of Object.entries(filter)) {
    const type = fieldType(fields, field);
    if (!type) {
      const known = Object.keys(fields);
      throw bad(`cannot filter on unknown field "${field.slice(0, 64)}" (filterable: ${known.length ? known.join(', ') : 'none; declare fields when the index is created'})`);
    }
    const want = (v: unknown, op: string) => {
      if (typeOf(v) !== type) throw bad(`filter ${field}.${op} needs a ${type}, got ${JSON.stringify(v)?.slice(0, 64)}`);
    };
    if (cond === null || typeof cond !== 'object') {
      want(cond, '$eq');
      continue;
    }
    if (Array.isArray(cond)) throw bad(`filter on "${field}": use {"$in": [...]} for a list`);
    const ops = Object.entries(cond);
    if (!ops.length) throw bad(`filter on "${field}" has no operator`);
    for (const [op, v] of ops) {
      if (!OPS.has(op)) throw bad(`unknown filter operator "${op.slice(0, 32)}" on "${field}" (use ${[...OPS].join(', ')})`);
      if (op === '$in' || op === '$nin') {
        if (!Array.isArray(v) || v.length === 0) throw bad(`filter ${field}.${op} needs a non-empty array`);
        // Counted before anything is looked at: the cost of a filter is bounded by these limits.
        values += v.length;
        if (values > limits.maxFilterValues) throw bad(`filter's $in/$nin lists hold ${values === v.length ? '' : 'at least '}${values} values; at most ${limits.maxFilterValues} in all`);
        v.forEach((x) => want(x, op));
      } else want(v, op);
    }
  }
  const bytes = utf8.encode(JSON.stringify(filter)).byteLength;
  if (bytes > limits.maxFilterBytes) throw bad(`filter is ${bytes} bytes of JSON; at most ${limits.maxFilterBytes}`);
}

const cmp = (a: MetadataValue, b: MetadataValue) => (a < b ? -1 : a > b ? 1 : 0);

/** Evaluates a checked filter on one record's metadata (the drivers that filter in JavaScript). */
export function matchesFilter(m: Metadata, filter: Filter): boolean {
  for (const [field, cond] of Object.entries(filter)) {
    const v = Object.hasOwn(m, field) ? m[field] : undefined;
    if (cond === null || typeof cond !== 'object') {
      if (v !== cond) return false;
      continue;
    }
    for (const [op, want] of Object.entries(cond) as [string, MetadataValue | MetadataValue[]][]) {
      const ok =
        op === '$in' ? v !== undefined && (want as MetadataValue[]).includes(v)
        : op === '$nin' ? v === undefined || !(want as MetadataValue[]).includes(v)
        : op === '$eq' ? v === want
        : op === '$ne' ? v !== want
        : v !== undefined && typeof v === typeof want && (
          op === '$lt' ? cmp(v, want as MetadataValue) < 0
          : op === '$lte' ? cmp(v, want as MetadataValue) <= 0
          : op === '$gt' ? cmp(v, want as MetadataValue) > 0
          : cmp(v, want as MetadataValue) >= 0);
      if (!ok) return false;
    }
  }
  return true;
}
