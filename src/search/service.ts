// Search over a vector index with a loaded CLIP kit: image bytes → embedding → index, and text or
// image queries → top-k matches. Web-standard: the HTTP routes, the CLI and the Workers consumer share it.
import type { CallOptions, ClipEdge } from '../core/clip.ts';
import { ClipEdgeError } from '../core/errors.ts';
import { sha256Hex } from '../core/model/integrity.ts';
import type { Filter, Match, Metadata, VectorIndex } from './types.ts';
import { checkId, checkMetadata, checkQueryOptions } from './validate.ts';

export interface IndexItem {
  image: Uint8Array;
  /** @defaultValue the sha256 of the image bytes (re-indexing the same file is a no-op upsert) */
  id?: string;
  metadata?: Metadata;
}

export interface SearchRequest {
  topK?: number;
  filter?: Filter;
  includeMetadata?: boolean;
}

export interface SearchResult {
  model: string;
  matches: Match[];
  timings: { embedMs: number; searchMs: number; totalMs: number };
}

export interface SearchService {
  readonly index: VectorIndex;
  /** Embeds every image, then upserts them in one call: a bad image fails the call and nothing is written. */
  add(items: readonly IndexItem[], options?: CallOptions): Promise<{ ids: string[]; timings: { embedMs: number; upsertMs: number } }>;
  remove(id: string): Promise<boolean>;
  searchText(text: string, request?: SearchRequest, options?: CallOptions): Promise<SearchResult>;
  searchImage(image: Uint8Array, request?: SearchRequest, options?: CallOptions): Promise<SearchResult>;
  searchVector(vector: Float32Array, request?: SearchRequest): Promise<SearchResult>;
}

/** The index must hold this model's embeddings: another model's vectors live in another space. */
export function checkIndexFits(clip: Pick<ClipEdge, 'info'>, index: VectorIndex): void {
  if (index.space.model !== clip.info.id || index.space.dim !== clip.info.embedDim) {
    throw new ClipEdgeError(
      'INDEX_MISMATCH',
      `the index holds ${index.space.dim}-dimensional vectors of "${index.space.model}", but the loaded model is "${clip.info.id}" (${clip.info.embedDim} dimensions)`,
      { details: { indexModel: index.space.model, model: clip.info.id } },
    );
  }
}

/** Names an item of a batch in an error, keeping the code. */
function which(e: unknown, i: number, n: number): unknown {
  if (n === 1 || !(e instanceof ClipEdgeError)) return e;
  return new ClipEdgeError(e.code, `image ${i + 1} of ${n}: ${e.message}`, { cause: e, ...(e.details ? { details: e.details } : {}) });
}

export function createSearchService(clip: ClipEdge, index: VectorIndex): SearchService {
  checkIndexFits(clip, index);
  const model = clip.info.id;
  const queryOptions = (r: SearchRequest | undefined) => ({ ...(r?.topK !== undefined ? { topK: r.topK } : {}), ...(r?.filter ? { filter: r.filter } : {}), ...(r?.includeMetadata !== undefined ? { includeMetadata: r.includeMetadata } : {}) });
  /** The request's topK and filter, refused before the query is embedded (the embedding is the expensive part). */
  const precheck = (r: SearchRequest | undefined) => void checkQueryOptions(queryOptions(r), index);
  /** Given ids and metadata, refused before any image is embedded (the index checks them again on upsert). */
  const precheckItems = (items: readonly IndexItem[]) => {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      try {
        if (item.id !== undefined) {
          checkId(item.id);
          if (seen.has(item.id)) throw new ClipEdgeError('BAD_INPUT', `id "${item.id}" appears twice in one upsert`);
          seen.add(item.id);
        }
        if (item.metadata !== undefined) checkMetadata(item.metadata, index.fields, index.limits);
      } catch (e) {
        throw which(e, i, items.length);
      }
    });
  };
  const query = async (vector: Float32Array, r: SearchRequest | undefined, embedMs: number, t0: number): Promise<SearchResult> => {
    const t1 = performance.now();
    const matches = await index.query(vector, queryOptions(r));
    const now = performance.now();
    return { model, matches, timings: { embedMs, searchMs: now - t1, totalMs: now - t0 } };
  };
  return {
    index,
    async add(items, options) {
      if (!items.length) throw new ClipEdgeError('BAD_INPUT', 'no images to index');
      precheckItems(items);
      const t0 = performance.now();
      // Embedded concurrently: the vision tower's micro-batcher runs them as one batch.
      const embedded = await Promise.all(
        items.map(async (item, i) => {
          try {
            const [e, id] = await Promise.all([clip.embedImage(item.image, options), item.id ?? sha256Hex(item.image)]);
            return { id, vector: e.embedding, ...(item.metadata ? { metadata: item.metadata } : {}) };
          } catch (e) {
            throw which(e, i, items.length);
          }
        }),
      );
      const t1 = performance.now();
      await index.upsert(embedded, { model });
      return { ids: embedded.map((e) => e.id), timings: { embedMs: t1 - t0, upsertMs: performance.now() - t1 } };
    },
    async remove(id) {
      return (await index.delete([id])).deleted > 0;
    },
    async searchText(text, r, options) {
      if (typeof text !== 'string' || !text.trim()) throw new ClipEdgeError('BAD_INPUT', 'the search text is empty');
      precheck(r);
      const t0 = performance.now();
      const { embeddings } = await clip.embedText([text], options);
      return query(embeddings[0]!, r, performance.now() - t0, t0);
    },
    async searchImage(image, r, options) {
      precheck(r);
      const t0 = performance.now();
      const { embedding } = await clip.embedImage(image, options);
      return query(embedding, r, performance.now() - t0, t0);
    },
    searchVector: (vector, r) => query(vector, r, 0, performance.now()),
  };
}
