// LanceDB (@lancedb/lancedb, an optional dependency) on Node, Deno and Bun: an embedded on-disk
// vector database. The folder can be local or on S3-compatible storage such as R2 (`uri`
// `s3://bucket/prefix` + `storageOptions`). Search is exact until the table reaches `ann.minRows`
// rows; then persist() builds an approximate index (lancedb-ann.ts). One table of images and one of
// the index's own settings. Writes go through one queue per table (lancedb-writes.ts: one commit
// at a time, concurrent requests grouped), one process writes to a local folder at a time
// (lancedb-lock.ts), and the kit compacts and drops old versions itself (lancedb-maintenance.ts).
import { ClipEdgeError, isClipEdgeError } from '../../core/errors.ts';
import { TOP_K } from '../../core/limits.ts';
import { annSettings, buildAnn, builtType, type LanceDbAnnOptions, querySettings, tuneQuery } from './lancedb-ann.ts';
import { type TableWriter, writerOf } from './lancedb-lock.ts';
import { type LanceDbMaintenanceOptions, maintenanceSchedule, maintenanceSettings, type MaintenanceSettings, type OptimizeReport } from './lancedb-maintenance.ts';
import { createWriteQueue } from './lancedb-writes.ts';
import { mismatch, presentIds, toMatch } from '../driver-helpers.ts';
import type { FieldType, Filter, IndexLimits, IndexOptions, Match, Metadata, VectorIndex } from '../types.ts';
import { type CheckedQuery, type CheckedRecord, openCheckedIndex } from '../checked-index.ts';

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
  /** Told when persist() starts and ends building the approximate index (minutes for 100k+ rows), and of failed background maintenance. @defaultValue silent */
  log?: (line: string) => void;
  /** When the kit compacts the table and deletes old versions by itself (lancedb-maintenance.ts), or `false`: only persist() and optimize(). @defaultValue after 100 commits or 10,000 rows, keeping the current version only */
  maintenance?: LanceDbMaintenanceOptions | false;
  /** How long the first write waits for concurrent ones to join its commit (ms). @defaultValue 2 */
  lingerMs?: number;
  /** How often reads look for versions another process committed (ms); writes of this process are seen at once. @defaultValue 1000 */
  refreshMs?: number;
}

/** The LanceDB index: a {@link VectorIndex} plus explicit maintenance. */
export interface LanceDbIndex extends VectorIndex {
  /**
   * Compacts small data files and deletes old versions now, after the writes queued before the call
   * (queries go on meanwhile). `keepVersionsMs` overrides `maintenance.keepVersionsMs` for this run.
   */
  optimize(options?: { keepVersionsMs?: number }): Promise<OptimizeReport>;
}

export const LANCEDB_LIMITS: Readonly<IndexLimits> = Object.freeze({ maxBatch: 10_000, maxTopK: TOP_K.max, maxTopKWithMetadata: TOP_K.max, maxMetadataBytes: 10 * 1024, maxFilterValues: 1024, maxFilterBytes: 64 * 1024 });

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

type Space = { model: string; dim: number };

/** Opens the images table, or creates it with its settings table; `fields` gains the stored ones. */
async function openTable(db: import('@lancedb/lancedb').Connection, arrow: Arrow, o: LanceDbIndexOptions, tableName: string, space: Space, fields: Record<string, FieldType>): Promise<Table> {
  const settingsName = `${tableName}_clip_edge`;
  const names = new Set(await guarded('list tables', () => db.tableNames()));
  // The index's own settings: which model and size it holds, which fields are columns.
  if (names.has(settingsName)) {
    const settingsTable = await db.openTable(settingsName);
    const [row] = (await settingsTable.query().toArray()) as { model: string; dim: number; fields: string }[];
    if (!row) throw new ClipEdgeError('INDEX_UNAVAILABLE', `${o.uri}: the settings table ${settingsName} is empty`);
    if (row.model !== space.model || Number(row.dim) !== space.dim) throw mismatch({ model: row.model, dim: Number(row.dim) }, space, `${o.uri} (table ${tableName})`);
    const stored = JSON.parse(row.fields) as Record<string, FieldType>;
    for (const [k, t] of Object.entries(fields)) {
      if (stored[k] !== t) {
        throw new ClipEdgeError('INDEX_MISMATCH', `${o.uri}: field "${k}" is ${Object.hasOwn(stored, k) ? `stored as ${stored[k]}` : 'not a column of this index'} (columns are fixed when the index is created)`);
      }
    }
    Object.assign(fields, stored);
  }
  if (names.has(tableName) && names.has(settingsName)) return db.openTable(tableName);
  if (names.has(tableName)) {
    // A table of that name without the kit's settings: another tool's (never replaced), or an empty
    // one left by a process killed between the two creations below (replaced).
    const rows = await guarded('count', async () => {
      const t = await db.openTable(tableName);
      try {
        return await t.countRows();
      } finally {
        t.close();
      }
    });
    if (rows > 0) {
      throw new ClipEdgeError('INDEX_MISMATCH', `${o.uri}: the table "${tableName}" holds ${rows} rows but is not a clip-edge index (no ${settingsName} table); choose another table name or folder`);
    }
  }
  const { Schema, Field, Float32, FixedSizeList, Utf8, Float64, Int8, Int32 } = arrow;
  const typeOf = { string: () => new Utf8(), number: () => new Float64(), boolean: () => new Int8() };
  const schema = new Schema([
    new Field('id', new Utf8(), false),
    new Field('vector', new FixedSizeList(space.dim, new Field('item', new Float32(), true)), false),
    new Field('meta', new Utf8(), false),
    ...Object.entries(fields).map(([k, t]) => new Field(column(k), typeOf[t](), true)),
  ]);
  const table = await guarded('create the table', () => db.createEmptyTable(tableName, schema, { mode: 'overwrite' }));
  const settingsSchema = new Schema([new Field('model', new Utf8(), false), new Field('dim', new Int32(), false), new Field('fields', new Utf8(), false)]);
  const settingsTable = await db.createEmptyTable(settingsName, settingsSchema, { mode: 'overwrite' });
  await settingsTable.add([{ model: space.model, dim: space.dim, fields: JSON.stringify(fields) }]);
  return table;
}

/** What an existing index folder holds (its model, size and fields), or undefined when it has no such table: tools open an index without loading its model. */
export async function readLanceDbIndexInfo(o: Pick<LanceDbIndexOptions, 'uri' | 'storageOptions' | 'table'>): Promise<{ model: string; dim: number; fields: Record<string, FieldType> } | undefined> {
  const { lancedb } = await load();
  const db = await guarded(`open ${o.uri}`, () => lancedb.connect(o.uri, o.storageOptions ? { storageOptions: o.storageOptions } : {}));
  try {
    const settingsName = `${o.table ?? 'images'}_clip_edge`;
    if (!(await guarded('list tables', () => db.tableNames())).includes(settingsName)) return undefined;
    const settings = await db.openTable(settingsName);
    const [row] = (await settings.query().toArray()) as { model: string; dim: number; fields: string }[];
    settings.close();
    return row ? { model: row.model, dim: Number(row.dim), fields: JSON.parse(row.fields) as Record<string, FieldType> } : undefined;
  } finally {
    db.close();
  }
}

function checkWriteOptions(o: LanceDbIndexOptions): void {
  for (const k of ['lingerMs', 'refreshMs'] as const) {
    const v = o[k];
    if (v !== undefined && (!Number.isFinite(v) || v < 0 || v > 60_000)) throw new ClipEdgeError('BAD_INPUT', `${k} must be a number of milliseconds from 0 to 60000, got ${String(v)}`);
  }
}

/**
 * The table's write path: this process's right to write it (writerOf), the grouped queue of commits
 * (lancedb-writes.ts) and the maintenance that follows them (lancedb-maintenance.ts).
 */
function tableWrites(table: Table, o: LanceDbIndexOptions, tableName: string, fields: Record<string, FieldType>, maintenance: MaintenanceSettings | undefined) {
  const row = (r: CheckedRecord) => ({
    id: r.id,
    vector: Array.from(r.vector),
    meta: JSON.stringify(r.metadata),
    ...Object.fromEntries(Object.keys(fields).map((k) => {
      const v = Object.hasOwn(r.metadata, k) ? r.metadata[k] : undefined;
      return [column(k), typeof v === 'boolean' ? Number(v) : v ?? null];
    })),
  });
  const existing = (ids: string[]): Promise<Set<string>> =>
    presentIds(ids, 500, async (chunk) => ((await table.query().where(`id IN (${inList(chunk)})`).select(['id']).toArray()) as { id: string }[]).map((r) => r.id));

  // The right to write (the lock file of a local folder), taken by the first write, kept until close().
  let writer: TableWriter | undefined;
  const writable = () => (writer ??= writerOf(o.uri, tableName));
  // Another index of this process may have committed through its own handle: a merge must see it.
  const latest = async () => {
    if (writer?.shared()) await table.checkoutLatest();
  };
  const queue = createWriteQueue(
    {
      // One merge on id: an id present is replaced, a new one inserted, in one commit.
      upsert: (rows) =>
        writable().serial(() =>
          guarded('write', async () => {
            await latest();
            await table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows.map(row));
          }),
        ),
      delete: (ids) =>
        writable().serial(() =>
          guarded('delete', async () => {
            await latest();
            const found = await existing(ids);
            if (found.size) await table.delete(`id IN (${inList([...found])})`);
            return found;
          }),
        ),
    },
    { ...(o.lingerMs !== undefined ? { lingerMs: o.lingerMs } : {}), maxRows: LANCEDB_LIMITS.maxBatch, onCommit: (n) => schedule.committed(n) },
  );
  const optimizeNow = (keepVersionsMs = maintenance?.keepVersionsMs ?? 0): Promise<OptimizeReport> =>
    queue.exclusive(() =>
      writable().serial(async () => {
        schedule.reset();
        const t0 = performance.now();
        await latest();
        // deleteUnverified: files no version lists (left by a killed write) are deleted too, which is
        // safe only while no other process writes: under the lock, never on object storage.
        const s = await guarded('compact', () => table.optimize({ cleanupOlderThan: new Date(Date.now() - keepVersionsMs), deleteUnverified: writer!.exclusive }));
        return { filesRemoved: s.compaction.filesRemoved, filesAdded: s.compaction.filesAdded, versionsRemoved: s.prune.oldVersionsRemoved, bytesRemoved: s.prune.bytesRemoved, ms: performance.now() - t0 };
      }),
    );
  const schedule = maintenanceSchedule(maintenance, optimizeNow, o.log ?? (() => {}));
  return { existing, writable, latest, queue, optimizeNow, release: () => writer?.release() };
}

/** A LanceDB table (a folder, or S3/R2): exact search, then an approximate index once it is large. */
export const createLanceDbIndex = (options: LanceDbIndexOptions): Promise<LanceDbIndex> => openCheckedIndex(options, lanceDbDriver);

async function lanceDbDriver(options: LanceDbIndexOptions) {
  if ('annMinRows' in options) throw new ClipEdgeError('BAD_INPUT', 'annMinRows was replaced by ann: { minRows } (docs/search.md)');
  checkWriteOptions(options);
  const ann = annSettings(options.ann, options.dim);
  const maintenance = maintenanceSettings(options.maintenance);
  const { lancedb, arrow } = await load();
  const space = { model: options.model, dim: options.dim };
  const fields: Record<string, FieldType> = { ...options.fields };
  const tableName = options.table ?? 'images';
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(tableName)) throw new ClipEdgeError('BAD_INPUT', `table name "${tableName}" must be a plain name`);
  const db = await guarded(`open ${options.uri}`, () =>
    lancedb.connect(options.uri, { ...(options.storageOptions ? { storageOptions: options.storageOptions } : {}), readConsistencyInterval: (options.refreshMs ?? 1000) / 1000 }),
  );
  const table = await openTable(db, arrow, options, tableName, space, fields);
  let built = await guarded('list indexes', () => builtType(table));
  let tuning = querySettings(ann, built, options.log);

  const w = tableWrites(table, options, tableName, fields, maintenance);
  const { existing, writable, latest, queue, optimizeNow } = w;

  const search = async (q: CheckedQuery) => {
    let s = tuneQuery(table.vectorSearch(Array.from(q.vector)).distanceType('cosine').limit(q.topK), tuning).select(q.includeMetadata ? ['id', 'meta', '_distance'] : ['id', '_distance']);
    if (q.filter) s = s.where(filterSql(q.filter));
    return (await s.toArray()) as { id: string; meta?: string; _distance: number }[];
  };

  const index = {
    driver: 'lancedb',
    space,
    fields,
    limits: LANCEDB_LIMITS,
    async upsert(checked: readonly CheckedRecord[]) {
      if (!checked.length) return { upserted: 0 };
      writable();
      return { upserted: await queue.upsert([...checked]) };
    },
    async delete(ids: readonly string[]) {
      if (!ids.length) return { deleted: 0 };
      writable();
      return { deleted: await queue.delete([...ids]) };
    },
    has: (ids: readonly string[]) => guarded('read', () => existing([...ids])),
    async query(q: CheckedQuery): Promise<Match[]> {
      const rows = await guarded('search', async () => {
        try {
          return await search(q);
        } catch (e) {
          // A query that began on a version that maintenance (here or in the writing process) has
          // just deleted: once more on the latest version.
          await table.checkoutLatest();
          return search(q).catch(() => Promise.reject(e));
        }
      });
      return rows.map((r) => toMatch(r.id, 1 - r._distance, q.includeMetadata, () => JSON.parse(r.meta!) as Metadata));
    },
    count: () => guarded('count', () => table.countRows()),
    async optimize(o?: { keepVersionsMs?: number }): Promise<OptimizeReport> {
      if (o?.keepVersionsMs !== undefined) maintenanceSettings({ keepVersionsMs: o.keepVersionsMs });
      writable();
      return optimizeNow(o?.keepVersionsMs);
    },
    async persist() {
      // Compaction also adds new rows to an existing approximate index; one is built once (changed
      // build settings take a new folder or table).
      writable();
      await optimizeNow();
      if (!ann || built) return;
      await queue.exclusive(() => writable().serial(async () => {
        await latest();
        const rows = await guarded('count', () => table.countRows());
        if (rows < ann.minRows) return;
        await guarded('build the approximate index', async () => {
          built = await builtType(table); // another process may have built it meanwhile
          if (!built) await buildAnn(table, lancedb.Index, ann, rows, options.log);
          built ??= ann.type;
          tuning = querySettings(ann, built, options.log);
        });
      }));
    },
    async close() {
      await queue.idle();
      w.release();
      table.close();
      db.close();
    },
  };
  return index;
}
