// The index service's input layer: every VectorIndex users get is a driver wrapped here. The wrapper
// checks and normalises each input once (validate.ts: ids, records, vectors, metadata, topK,
// filters), so a driver is raw calls on clean input, and a new driver cannot forget a check. The
// driver contract suite (test/contract/search-index.ts) runs through createXIndex, i.e. through this.
import type { FieldType, IndexLimits, IndexOptions, IndexSpace, Match, VectorIndex } from './types.ts';
import { type CheckedQuery, type CheckedRecord, checkIds, checkOptions, checkQuery, checkRecords } from './validate.ts';

export type { CheckedQuery, CheckedRecord } from './validate.ts';

/** What a driver implements: the VectorIndex members, with writes and queries on checked input. */
export interface IndexDriver {
  readonly driver: string;
  readonly space: Readonly<IndexSpace>;
  readonly fields: Readonly<Record<string, FieldType>>;
  readonly limits: Readonly<IndexLimits>;
  /** Records of this index's model, each id once, vectors float32 and L2-normalised, metadata checked; at most limits.maxBatch. */
  upsert(records: readonly CheckedRecord[]): Promise<{ upserted: number }>;
  /** Valid ids, each once. */
  delete(ids: readonly string[]): Promise<{ deleted: number }>;
  has(ids: readonly string[]): Promise<Set<string>>;
  /** A normalised query vector, topK within limits, a filter on declared fields (undefined when empty). */
  query(q: CheckedQuery): Promise<Match[]>;
  count(): Promise<number>;
  persist(): Promise<void>;
  close(): Promise<void>;
}

type Raw = 'upsert' | 'delete' | 'has' | 'query';

/** A driver (and whatever more it offers, e.g. LanceDB's optimize) as the checked VectorIndex. */
export type Checked<D extends IndexDriver> = Omit<D, Raw> & Pick<VectorIndex, Raw>;

/** Wraps a driver in place: its raw calls get only checked input. */
export function checkedIndex<D extends IndexDriver>(d: D): Checked<D> {
  const raw = { upsert: d.upsert.bind(d), delete: d.delete.bind(d), has: d.has.bind(d), query: d.query.bind(d) };
  const checked: Pick<VectorIndex, Raw> = {
    upsert: async (records, { model }) => raw.upsert(checkRecords(records, model, d)),
    delete: async (ids) => raw.delete(checkIds(ids)),
    has: async (ids) => raw.has(checkIds(ids)),
    query: async (vector, options) => raw.query(checkQuery(vector, options, d)),
  };
  return Object.assign(d, checked) as unknown as Checked<D>;
}

/** Checks an index's options, opens its driver, and wraps it: what every createXIndex does. */
export async function openCheckedIndex<O extends IndexOptions, D extends IndexDriver>(options: O, open: (options: O) => Promise<D>): Promise<Checked<D>> {
  checkOptions(options);
  return checkedIndex(await open(options));
}
