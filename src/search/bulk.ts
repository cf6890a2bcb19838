// Bulk indexing on one machine: read + hash the next chunk while the current one is embedded
// (the vision tower's micro-batcher runs a chunk's images as batches), skip what the index already
// holds (ids are the sha256 of the bytes, so a rerun resumes), record every failure and go on.
import type { ClipEdge } from '../core/clip.ts';
import { ClipEdgeError, isClipEdgeError } from '../core/errors.ts';
import { sha256Hex } from '../core/model/integrity.ts';
import type { Metadata, VectorIndex, VectorRecord } from './types.ts';

export interface BulkSource {
  /** How the image is named in metadata and reports (a relative path, an R2 key). */
  key: string;
  read(): Promise<Uint8Array>;
}

export interface BulkProgress {
  done: number;
  total: number;
  indexed: number;
  skipped: number;
  failed: number;
}

export interface BulkFailure {
  key: string;
  code: string;
  message: string;
}

export interface BulkSummary extends BulkProgress {
  /** Images whose bytes equal an earlier image of the same run (one record for both). */
  duplicates: number;
  failures: BulkFailure[];
  seconds: number;
  /** Images embedded per second (skipped ones excluded). */
  imagesPerSecond: number;
}

export interface BulkOptions {
  /** Images read, checked and embedded together. @defaultValue 32 */
  chunk?: number;
  /** Metadata of each record. @defaultValue { path: key, bytes } */
  metadata?: (key: string, bytes: Uint8Array) => Metadata;
  onProgress?: (p: BulkProgress) => void;
  /** Stops after the chunk in flight (everything upserted so far stays). */
  signal?: AbortSignal;
}

interface Read {
  key: string;
  bytes?: Uint8Array;
  id?: string;
  error?: BulkFailure;
}

const failure = (key: string, e: unknown): BulkFailure =>
  isClipEdgeError(e) ? { key, code: e.code, message: e.message } : { key, code: 'READ_FAILED', message: e instanceof Error ? e.message : String(e) };

async function readChunk(sources: readonly BulkSource[]): Promise<Read[]> {
  return Promise.all(
    sources.map(async (s) => {
      try {
        const bytes = await s.read();
        if (!bytes.byteLength) return { key: s.key, error: { key: s.key, code: 'CORRUPT_IMAGE', message: 'the file is empty' } };
        return { key: s.key, bytes, id: await sha256Hex(bytes) };
      } catch (e) {
        return { key: s.key, error: failure(s.key, e) };
      }
    }),
  );
}

export async function indexAll(clip: ClipEdge, index: VectorIndex, sources: readonly BulkSource[], options: BulkOptions = {}): Promise<BulkSummary> {
  const chunk = options.chunk ?? 32;
  if (!Number.isInteger(chunk) || chunk < 1) throw new ClipEdgeError('BAD_INPUT', `chunk must be a positive integer, got ${chunk}`);
  const model = clip.info.id;
  const metadataOf = options.metadata ?? ((key: string, bytes: Uint8Array) => ({ path: key, bytes: bytes.byteLength }));
  const s: BulkSummary = { done: 0, total: sources.length, indexed: 0, skipped: 0, failed: 0, duplicates: 0, failures: [], seconds: 0, imagesPerSecond: 0 };
  const seen = new Set<string>();
  const t0 = performance.now();
  let embedSeconds = 0;
  let next: Promise<Read[]> | undefined = readChunk(sources.slice(0, chunk));
  for (let start = 0; next; start += chunk) {
    const reads: Read[] = await next;
    // Prefetch: the next chunk is read and hashed while this one is embedded.
    next = start + chunk < sources.length && !options.signal?.aborted ? readChunk(sources.slice(start + chunk, start + 2 * chunk)) : undefined;
    const fresh: Read[] = [];
    for (const r of reads) {
      if (r.error) s.failures.push(r.error);
      else if (seen.has(r.id!)) s.duplicates++;
      else fresh.push(r);
      if (r.id) seen.add(r.id);
    }
    const present = fresh.length ? await index.has(fresh.map((r) => r.id!)) : new Set<string>();
    const todo = fresh.filter((r) => !present.has(r.id!));
    s.skipped += fresh.length - todo.length;
    const te = performance.now();
    const embedded = await Promise.all(
      todo.map(async (r): Promise<VectorRecord | undefined> => {
        try {
          const e = await clip.embedImage(r.bytes!, options.signal ? { signal: options.signal } : undefined);
          return { id: r.id!, vector: e.embedding, metadata: metadataOf(r.key, r.bytes!) };
        } catch (e) {
          if (options.signal?.aborted) throw e;
          s.failures.push(failure(r.key, e));
          return undefined;
        }
      }),
    );
    const records = embedded.filter((x): x is VectorRecord => x !== undefined);
    for (let i = 0; i < records.length; i += index.limits.maxBatch) await index.upsert(records.slice(i, i + index.limits.maxBatch), { model });
    embedSeconds += (performance.now() - te) / 1000;
    s.indexed += records.length;
    s.failed = s.failures.length;
    s.done += reads.length;
    options.onProgress?.({ done: s.done, total: s.total, indexed: s.indexed, skipped: s.skipped + s.duplicates, failed: s.failed });
    if (options.signal?.aborted) break;
  }
  await index.persist();
  s.seconds = (performance.now() - t0) / 1000;
  s.imagesPerSecond = embedSeconds > 0 ? s.indexed / embedSeconds : 0;
  return s;
}
