// The LanceDB driver's approximate (ANN) index: its options, their checks, the index LanceDB builds
// and the per-query tuning. The defaults come from bench/search-ann.ts (bench/results/search-ann-*.md):
// see docs/search.md, "Query latency vs index size".
import { ClipEdgeError } from '../../core/errors.ts';

export type AnnIndexType = 'ivf-pq' | 'ivf-hnsw-sq' | 'ivf-flat';

export interface LanceDbAnnOptions {
  /** persist() builds the index once the table has this many rows (and keeps it up to date after); ≥ 256 for ivf-pq. @defaultValue 100_000 */
  minRows?: number;
  /** The index LanceDB builds: HNSW graphs over 8-bit scalar-quantised vectors, IVF + product quantisation (~15× smaller, lower recall), or IVF over full vectors. @defaultValue 'ivf-hnsw-sq' */
  type?: AnnIndexType;
  /** IVF partitions (k-means clusters). @defaultValue LanceDB's: 1 for ivf-hnsw-sq; few for ivf-pq and ivf-flat (nprobes 20 searched them all at 100k rows) */
  partitions?: number;
  /** ivf-pq only: product-quantisation sub-vectors; a divisor of the dimension. @defaultValue LanceDB's: dim / 16 */
  subVectors?: number;
  /** Partitions searched per query (ivf-hnsw-sq builds one partition unless `partitions` says otherwise). @defaultValue 20 */
  nprobes?: number;
  /** Re-rank `topK × refineFactor` candidates by their exact cosine (ivf-pq, ivf-hnsw-sq); 0: no re-ranking (scores are then approximate). @defaultValue 40 */
  refineFactor?: number;
}

// Measured (bench/results/search-ann-vm-*.md: clip-like 512-d vectors, 2 vCPUs): IVF-HNSW-SQ
// re-ranked ×40 is the fastest setting tried with recall@10 ≥ 0.95 for image and text-like queries
// at both 100k (0.99, ~9.5 ms vs 230 ms exact) and 300k rows (0.96, ~11 ms vs 680 ms); ×20 holds
// 0.97 at 100k but 0.92 at 300k. IVF-PQ stays below 0.82 on text-like queries at any nprobes /
// refineFactor tried. Below 100k rows exact search answers in ≤ ~0.25 s with perfect recall.
export const ANN_DEFAULTS = Object.freeze({ minRows: 100_000, type: 'ivf-hnsw-sq' as AnnIndexType, nprobes: 20, refineFactor: 40 });

export type AnnSettings = Required<Pick<LanceDbAnnOptions, 'minRows' | 'type' | 'nprobes' | 'refineFactor'>> & Pick<LanceDbAnnOptions, 'partitions' | 'subVectors'>;

const bad = (message: string) => new ClipEdgeError('BAD_INPUT', message);
const TYPES: readonly AnnIndexType[] = ['ivf-pq', 'ivf-hnsw-sq', 'ivf-flat'];

function positiveInt(o: LanceDbAnnOptions, key: keyof LanceDbAnnOptions, min: number): void {
  const v = o[key];
  if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < min)) throw bad(`ann.${key} must be an integer ≥ ${min}, got ${String(v)}`);
}

/** Checked settings with defaults filled in; `false` turns the index off (exact search at any size). */
export function annSettings(o: LanceDbAnnOptions | false | undefined, dim: number): AnnSettings | undefined {
  if (o === false) return undefined;
  if (o === undefined) return { ...ANN_DEFAULTS };
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw bad('ann must be an object of index settings, or false for exact search');
  // A key given as undefined means "the default", as if absent (a spread would otherwise erase it).
  o = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as LanceDbAnnOptions;
  for (const k of Object.keys(o)) {
    if (!['minRows', 'type', 'partitions', 'subVectors', 'nprobes', 'refineFactor'].includes(k)) throw bad(`ann.${k} is not a setting (minRows, type, partitions, subVectors, nprobes, refineFactor)`);
  }
  // IVF-PQ trains 256 centroids per sub-vector: LanceDB refuses to build it from fewer rows.
  positiveInt(o, 'minRows', (o.type ?? ANN_DEFAULTS.type) === 'ivf-pq' ? 256 : 1);
  positiveInt(o, 'partitions', 1);
  positiveInt(o, 'subVectors', 1);
  positiveInt(o, 'nprobes', 1);
  positiveInt(o, 'refineFactor', 0);
  if (o.type !== undefined && !TYPES.includes(o.type)) throw bad(`ann.type "${String(o.type)}" is not one of ${TYPES.join(', ')}`);
  if (o.subVectors !== undefined && (o.type ?? ANN_DEFAULTS.type) !== 'ivf-pq') throw bad('ann.subVectors applies to type ivf-pq only');
  if (o.subVectors !== undefined && dim % o.subVectors !== 0) throw bad(`ann.subVectors (${o.subVectors}) must divide the dimension ${dim}`);
  return { ...ANN_DEFAULTS, ...o };
}

// The slices of LanceDB used here, typed structurally: @lancedb/lancedb is an optional peer, so the
// published declarations must not name it (a consumer without it could not type-check them).
interface IvfOptions { distanceType: 'cosine'; numPartitions?: number; numSubVectors?: number }
interface IndexFactory {
  ivfFlat(o: IvfOptions): object;
  hnswSq(o: IvfOptions): object;
  ivfPq(o: IvfOptions): object;
}
interface AnnTable {
  listIndices(): Promise<{ columns: string[]; indexType: string }[]>;
  createIndex(column: string, options?: { config?: object }): Promise<void>;
}

/** The LanceDB index config for these settings (cosine, as every driver searches). */
export function annIndexConfig(Index: IndexFactory, s: AnnSettings): object {
  const ivf = { distanceType: 'cosine' as const, ...(s.partitions ? { numPartitions: s.partitions } : {}) };
  if (s.type === 'ivf-flat') return Index.ivfFlat(ivf);
  if (s.type === 'ivf-hnsw-sq') return Index.hnswSq(ivf);
  return Index.ivfPq({ ...ivf, ...(s.subVectors ? { numSubVectors: s.subVectors } : {}) });
}

const BUILT: Readonly<Record<string, AnnIndexType>> = { IvfHnswSq: 'ivf-hnsw-sq', IvfPq: 'ivf-pq', IvfFlat: 'ivf-flat' };

/** The type of the approximate index the table already has on its vectors (undefined: none, or one of another kind). */
export async function builtType(table: AnnTable): Promise<AnnIndexType | undefined> {
  const found = (await table.listIndices()).find((i) => i.columns.includes('vector'));
  return found ? BUILT[found.indexType] : undefined;
}

/**
 * The settings queries run with: those asked for, but with the type of the index the table has —
 * an index is built once and kept, and re-ranking must follow the index that answers.
 */
export function querySettings(ann: AnnSettings | undefined, built: AnnIndexType | undefined, log?: (line: string) => void): AnnSettings | undefined {
  if (!ann || !built || built === ann.type) return ann;
  log?.(`this table's approximate index is ${built}, not the ${ann.type} asked for: it is kept (to change it, index into a new folder or table)`);
  return { ...ann, type: built };
}

/** Builds the index (once: persist() calls it only while the table has none). */
export async function buildAnn(table: AnnTable, Index: IndexFactory, ann: AnnSettings, rows: number, log?: (line: string) => void): Promise<void> {
  const t = performance.now();
  log?.(`building the approximate search index (${ann.type}) over ${rows.toLocaleString('en')} images: 1–2 minutes per 100,000 on 2 cores, more for larger tables…`);
  await table.createIndex('vector', { config: annIndexConfig(Index, ann) });
  log?.(`approximate search index built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}

interface Tunable<Q> { nprobes(n: number): Q; refineFactor(r: number): Q; bypassVectorIndex(): Q }

/** Applies the per-query settings (LanceDB ignores them while the table has no index); without settings (`ann: false`) an index built earlier is bypassed: exact search. */
export function tuneQuery<Q extends Tunable<Q>>(q: Q, s: AnnSettings | undefined): Q {
  if (!s) return q.bypassVectorIndex();
  const probed = q.nprobes(s.nprobes);
  return s.refineFactor > 0 && s.type !== 'ivf-flat' ? probed.refineFactor(s.refineFactor) : probed;
}
