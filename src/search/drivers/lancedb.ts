// LanceDB (@lancedb/lancedb, an optional dependency) on Node, Deno and Bun: an embedded on-disk
// vector database. The folder can be local or on S3-compatible storage such as R2 (`uri`
// `s3://bucket/prefix` + `storageOptions`). Search is exact until the table reaches `ann.minRows`
// rows; then persist() builds an approximate index (lancedb-ann.ts). One table of images and one of
// the index's own settings.
import { ClipEdgeError, isClipEdgeError } from '../../core/errors.ts';
import { annSettings, buildAnn, builtType, type LanceDbAnnOptions, querySettings, tuneQuery } from './lancedb-ann.ts';
import { mismatch, presentIds, toMatch } from '../driver-helpers.ts';
import type { FieldType, Filter, IndexLimits, IndexOptions, Match, Metadata, QueryOptions, VectorIndex, VectorRecord } from '../types.ts';
import { checkIds, checkOptions, checkQuery, checkRecords } from '../validate.ts';

export interface LanceDbIndexOptions extends IndexOptions {
  /** A folder path, or `s3://bucket/prefix` (R2: with `storageOptions.endpoint`). */
  uri: string;
  /** Passed to lancedb.connect (credentials, endpoint, region). @defaultValue none */
  storageOptions?: Record<string, string>;
  /** Table name, so that one folder can hold several indexes. @defaultValue 'images' */
  table?: string;
  /**
   * The approximate index persist() builds once the table is large (settings in lancedb-ann.ts), or
   * `false` for exact search at any size. @defaultValue IVF-HNSW-SQ from 100,000 rows, refineFactor 40
   */
  ann?: LanceDbAnnOptions | false;
  /** Told when persist() starts and ends building the approximate index (minutes for 100k+ rows). @defaultValue silent */
  log?: (line: string) => void;
}

export const LANCEDB_LIMITS: Readonly<IndexLimits> = Object.freeze({ maxBatch: 10_000, maxTopK: 1000, maxTopKWithMetadata: 1000, maxMetadataBytes: 10 * 1024 });

type LanceDb = typeof import('@lancedb/lancedb');
type Arrow = typeof import('apache-arrow');
type Table = import('@lancedb/lancedb').Table;

async function load(): Promise<{ lancedb: LanceDb; arrow: Arrow }> {
  // LanceDB logs at warn by default ("No existing dataset … will be created" on every new table);
  // its logger reads LANCEDB_LOG once, when the native module loads. A user's own setting wins.
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env;
  if (env && env.LANCEDB_LOG === undefined) env.LANCEDB_LOG = 'error';
  try {
    const [lancedb, arrow] = await Promise.all([import('@lancedb/lancedb'), import('apache-arrow')]);
    return { lancedb, arrow };
  } catch (cause) {
    throw new ClipEdgeError('INDEX_UNAVAILABLE', 'the LanceDB driver needs @lancedb/lancedb@0.31.0 and apache-arrow@18.1.0 (npm install them)', { cause });
  }
}

const column = (field: string) => `m_${field}`;
const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;
// Booleans are stored as Int8 0/1: apache-arrow 18 writes an all-null Bool column without its
// bitmap, which LanceDB 0.31 refuses ("Need at least … bytes for bitmap").
const sqlValue = (v: string | number | boolean) => (typeof v === 'string' ? sqlString(v) : typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
const inList = (ids: readonly string[]) => ids.map(sqlString).join(', ');

/** A checked filter as a SQL predicate over the field columns (names are checked identifiers). */
export function filterSql(filter: Filter): string {
  const ops: Record<string, string> = { $eq: '=', $ne: '!=', $lt: '<', $lte: '<=', $gt: '>', $gte: '>=' };
  const parts: string[] = [];
  for (const [field, cond] of Object.entries(filter)) {
    const c = column(field);
    if (cond === null || typeof cond !== 'object') {
      parts.push(`${c} = ${sqlValue(cond)}`);
      continue;
    }
    for (const [op, v] of Object.entries(cond)) {
      if (op === '$in') parts.push(`${c} IN (${(v as (string | number | boolean)[]).map(sqlValue).join(', ')})`);
      // Vectorize's $nin and $ne also match records without the field.
      else if (op === '$nin') parts.push(`(${c} IS NULL OR ${c} NOT IN (${(v as (string | number | boolean)[]).map(sqlValue).join(', ')}))`);
      else if (op === '$ne') parts.push(`(${c} IS NULL OR ${c} != ${sqlValue(v as string)})`);
      else parts.push(`${c} ${ops[op]} ${sqlValue(v as string)}`);
    }
  }
  return parts.join(' AND ');
}

/** Wraps LanceDB's own errors (I/O, corrupt files) so that callers see one error class. */
async function guarded<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isClipEdgeError(e)) throw e;
    throw new ClipEdgeError('INDEX_UNAVAILABLE', `LanceDB could not ${what}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, { cause: e });
  }
}

export async function createLanceDbIndex(options: LanceDbIndexOptions): Promise<VectorIndex> {
  checkOptions(options);
  if ('annMinRows' in options) throw new ClipEdgeError('BAD_INPUT', 'annMinRows was replaced by ann: { minRows } (docs/search.md)');
  const ann = annSettings(options.ann, options.dim);
  const { lancedb, arrow } = await load();
  const space = { model: options.model, dim: options.dim };
  const fields: Record<string, FieldType> = { ...options.fields };
  const tableName = options.table ?? 'images';
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(tableName)) throw new ClipEdgeError('BAD_INPUT', `table name "${tableName}" must be a plain name`);
  const settingsName = `${tableName}_clip_edge`;
  const db = await guarded(`open ${options.uri}`, () => lancedb.connect(options.uri, options.storageOptions ? { storageOptions: options.storageOptions } : {}));
  const names = new Set(await guarded('list tables', () => db.tableNames()));

  // The index's own settings: which model and size it holds, which fields are columns.
  if (names.has(settingsName)) {
    const settingsTable = await db.openTable(settingsName);
    const [row] = (await settingsTable.query().toArray()) as { model: string; dim: number; fields: string }[];
    if (!row) throw new ClipEdgeError('INDEX_UNAVAILABLE', `${options.uri}: the settings table ${settingsName} is empty`);
    if (row.model !== space.model || Number(row.dim) !== space.dim) throw mismatch({ model: row.model, dim: Number(row.dim) }, space, `${options.uri} (table ${tableName})`);
    const stored = JSON.parse(row.fields) as Record<string, FieldType>;
    for (const [k, t] of Object.entries(fields)) {
      if (stored[k] !== t) {
        throw new ClipEdgeError('INDEX_MISMATCH', `${options.uri}: field "${k}" is ${stored[k] ? `stored as ${stored[k]}` : 'not a column of this index'} (columns are fixed when the index is created)`);
      }
    }
    Object.assign(fields, stored);
  }
  let table: Table;
  if (names.has(tableName) && names.has(settingsName)) {
    table = await db.openTable(tableName);
  } else {
    const { Schema, Field, Float32, FixedSizeList, Utf8, Float64, Int8, Int32 } = arrow;
    const typeOf = { string: () => new Utf8(), number: () => new Float64(), boolean: () => new Int8() };
    const schema = new Schema([
      new Field('id', new Utf8(), false),
      new Field('vector', new FixedSizeList(space.dim, new Field('item', new Float32(), true)), false),
      new Field('meta', new Utf8(), false),
      ...Object.entries(fields).map(([k, t]) => new Field(column(k), typeOf[t](), true)),
    ]);
    table = await guarded('create the table', () => db.createEmptyTable(tableName, schema, { mode: 'overwrite' }));
    const settingsSchema = new Schema([new Field('model', new Utf8(), false), new Field('dim', new Int32(), false), new Field('fields', new Utf8(), false)]);
    const settingsTable = await db.createEmptyTable(settingsName, settingsSchema, { mode: 'overwrite' });
    await settingsTable.add([{ model: space.model, dim: space.dim, fields: JSON.stringify(fields) }]);
  }
  let built = await guarded('list indexes', () => builtType(table));
  let tuning = querySettings(ann, built, options.log);

  const row = (r: { id: string; vector: Float32Array; metadata: Metadata }) => ({
    id: r.id,
    vector: Array.from(r.vector),
    meta: JSON.stringify(r.metadata),
    ...Object.fromEntries(Object.keys(fields).map((k) => {
      const v = r.metadata[k];
      return [column(k), typeof v === 'boolean' ? Number(v) : v ?? null];
    })),
  });
  const existing = (ids: string[]): Promise<Set<string>> =>
    presentIds(ids, 500, async (chunk) => ((await table.query().where(`id IN (${inList(chunk)})`).select(['id']).toArray()) as { id: string }[]).map((r) => r.id));

  const index: VectorIndex = {
    driver: 'lancedb',
    space,
    fields,
    limits: LANCEDB_LIMITS,
    async upsert(records: readonly VectorRecord[], { model }: { model: string }) {
      const checked = checkRecords(records, model, index);
      if (!checked.length) return { upserted: 0 };
      await guarded('write', async () => {
        // New ids are appended; existing ones replaced by a merge on id. (A 1000-row merge into an
        // empty table failed in 0.31 with "Spill has sent an error": appends avoid the merge's sort.)
        const present = await existing(checked.map((r) => r.id));
        const fresh = checked.filter((r) => !present.has(r.id));
        const replaced = checked.filter((r) => present.has(r.id));
        for (let i = 0; i < replaced.length; i += 256) {
          await table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(replaced.slice(i, i + 256).map(row));
        }
        if (fresh.length) await table.add(fresh.map(row));
      });
      return { upserted: checked.length };
    },
    async delete(list: readonly string[]) {
      const ids = checkIds(list);
      if (!ids.length) return { deleted: 0 };
      return guarded('delete', async () => {
        const found = [...(await existing(ids))];
        for (let i = 0; i < found.length; i += 500) await table.delete(`id IN (${inList(found.slice(i, i + 500))})`);
        return { deleted: found.length };
      });
    },
    has: (list: readonly string[]) => guarded('read', () => existing(checkIds(list))),
    async query(vector: Float32Array | readonly number[], opts?: QueryOptions): Promise<Match[]> {
      const q = checkQuery(vector, opts, index);
      return guarded('search', async () => {
        let search = tuneQuery(table.vectorSearch(Array.from(q.vector)).distanceType('cosine').limit(q.topK), tuning).select(q.includeMetadata ? ['id', 'meta', '_distance'] : ['id', '_distance']);
        if (q.filter) search = search.where(filterSql(q.filter));
        const rows = (await search.toArray()) as { id: string; meta?: string; _distance: number }[];
        return rows.map((r) => toMatch(r.id, 1 - r._distance, q.includeMetadata, () => JSON.parse(r.meta!) as Metadata));
      });
    },
    count: () => guarded('count', () => table.countRows()),
    async persist() {
      // optimize() also adds new rows to an existing index; an index is built once (changed build
      // settings take a new folder or table).
      await guarded('compact', () => table.optimize());
      if (!ann || built) return;
      const rows = await guarded('count', () => table.countRows());
      if (rows < ann.minRows) return;
      await guarded('build the approximate index', async () => {
        built = await builtType(table); // another process may have built it meanwhile
        if (!built) await buildAnn(table, lancedb.Index, ann, rows, options.log);
        built ??= ann.type;
        tuning = querySettings(ann, built, options.log);
      });
    },
    async close() {
      table.close();
      db.close();
    },
  };
  return index;
}
