/**
 * The vector index seam: one interface, one driver per storage (src/search/drivers/, file names say
 * the runtime), one contract suite every driver passes (test/contract/search-index.ts).
 * Vectors are CLIP embeddings, L2-normalised; scores are cosine similarities (higher is closer).
 */

/** Metadata values a driver stores and can filter on (Vectorize's scalar types). */
export type MetadataValue = string | number | boolean;
export type Metadata = Record<string, MetadataValue>;

/** Types of the fields a query may filter on, declared when the index is opened (Vectorize's metadata indexes). */
export type FieldType = 'string' | 'number' | 'boolean';

/** Which embedding space an index holds: vectors of another model or size are refused (INDEX_MISMATCH / BAD_INPUT). */
export interface IndexSpace {
  /** The model whose image embeddings the index holds (ClipEdge `info.id`). */
  model: string;
  /** Embedding size. */
  dim: number;
}

/** What every driver is opened with (plus its own options). */
export interface IndexOptions extends IndexSpace {
  /** Metadata fields queries may filter on. @defaultValue none */
  fields?: Readonly<Record<string, FieldType>>;
}

/**
 * Opens one driver's index for a model's embedding space: the driver's create…Index with its own
 * options bound, e.g. `(space) => createMemoryIndex({ ...space, store })`. How Node, Deno and Bun
 * take any driver (FsPlace.search, `createService`'s `search`).
 */
export type IndexOpener = (space: IndexOptions) => Promise<VectorIndex>;

export interface VectorRecord {
  /** At most 64 bytes of UTF-8 (Vectorize's limit, kept everywhere so indexes move between drivers). */
  id: string;
  vector: Float32Array | readonly number[];
  metadata?: Metadata;
}

/** `{field: value}` means `$eq`; several fields are ANDed (Vectorize's filter language). */
export type FilterOp = '$eq' | '$ne' | '$lt' | '$lte' | '$gt' | '$gte';
export type FilterSetOp = '$in' | '$nin';
export type FilterCondition = MetadataValue | { [op in FilterOp]?: MetadataValue } | { [op in FilterSetOp]?: readonly MetadataValue[] };
export type Filter = Readonly<Record<string, FilterCondition>>;

export interface QueryOptions {
  /** @defaultValue 10 */
  topK?: number;
  filter?: Filter;
  /** Return each match's metadata. @defaultValue true */
  includeMetadata?: boolean;
}

export interface Match {
  id: string;
  /** Cosine similarity, best first. */
  score: number;
  metadata?: Metadata;
}

/** A driver's documented limits (the contract suite reads them). */
export interface IndexLimits {
  /** Records per upsert call. */
  maxBatch: number;
  /** Largest topK without metadata. */
  maxTopK: number;
  /** Largest topK when metadata is returned. */
  maxTopKWithMetadata: number;
  /** JSON bytes of one record's metadata. */
  maxMetadataBytes: number;
  /** Values in a query filter's $in and $nin lists, all fields together. */
  maxFilterValues: number;
  /** Compact JSON bytes of a query filter. */
  maxFilterBytes: number;
}

export interface VectorIndex {
  /** The driver's name (its file name), e.g. `lancedb`, `memory`, `cloudflare-vectorize-binding`. */
  readonly driver: string;
  readonly space: Readonly<IndexSpace>;
  readonly fields: Readonly<Record<string, FieldType>>;
  readonly limits: Readonly<IndexLimits>;
  /**
   * Inserts or replaces records (whole records: metadata is not merged). `model` names the model that
   * made the vectors; another model than the index's is refused and nothing is written.
   */
  upsert(records: readonly VectorRecord[], options: { model: string }): Promise<{ upserted: number }>;
  /** Removes records; unknown ids are ignored. Returns how many existed. */
  delete(ids: readonly string[]): Promise<{ deleted: number }>;
  /** The ids among `ids` that are in the index (resumable bulk indexing skips them). */
  has(ids: readonly string[]): Promise<Set<string>>;
  /** Exact or approximate nearest neighbours by cosine similarity. */
  query(vector: Float32Array | readonly number[], options?: QueryOptions): Promise<Match[]>;
  count(): Promise<number>;
  /** Makes everything written so far durable (a no-op for write-through drivers). */
  persist(): Promise<void>;
  close(): Promise<void>;
}

