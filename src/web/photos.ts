// The search tab's photo library, in the page's inference worker: each photo is embedded with the
// vision tower the page already runs and kept in the browser index driver (flat and exact, one
// snapshot in Cache Storage, so it survives reloads); text queries load the text tower on first use.
import type { ClipEdge } from '../core/clip.ts';
import { ClipEdgeError, isClipEdgeError } from '../core/errors.ts';
import { sha256Hex } from '../core/model/integrity.ts';
import { createCacheStorageIndex } from '../search/drivers/browser-cache-storage.ts';
import type { FlatIndex } from '../search/drivers/memory.ts';
import type { Metadata, VectorRecord } from '../search/types.ts';
import type { Photo, PhotoFailure, PhotoFile, PhotoMatch, PhotosReply, PhotosRequest } from './protocol.ts';

/** Cache Storage cache of the page's photo index (one entry per model). */
export const PHOTOS_CACHE = 'clip-edge-photos';
/** Metadata is at most 10 KiB a record: a longer thumbnail is dropped (the name is shown instead). */
const MAX_THUMB_CHARS = 8000;
const MAX_NAME_CHARS = 200;

const photoOf = (id: string, m: Metadata | undefined): Photo => ({
  id,
  name: typeof m?.name === 'string' ? m.name : id.slice(0, 12),
  ...(typeof m?.thumb === 'string' ? { thumb: m.thumb } : {}),
});

const failure = (name: string, e: unknown): PhotoFailure => ({
  name,
  code: isClipEdgeError(e) ? e.code : 'INTERNAL',
  message: e instanceof Error ? e.message : String(e),
});

export interface PhotoLibrary {
  handle(request: PhotosRequest): Promise<PhotosReply>;
}

export function createPhotoLibrary(kit: ClipEdge): PhotoLibrary {
  const model = kit.info.id;
  let opened: Promise<FlatIndex> | undefined;
  // One index per model: another model's vectors live in another space (the driver refuses them).
  const index = () => {
    opened ??= createCacheStorageIndex({ model, dim: kit.info.embedDim, cacheName: PHOTOS_CACHE, name: model });
    opened.catch(() => (opened = undefined)); // an unreadable snapshot is reported; the next request tries again
    return opened;
  };

  /** Embeds every file; one that cannot be read is reported by name and the others are still indexed. */
  async function add(files: PhotoFile[]): Promise<PhotosReply> {
    const t0 = performance.now();
    const idx = await index();
    const outcomes = await Promise.all(
      files.map(async (f): Promise<VectorRecord | PhotoFailure> => {
        const bytes = new Uint8Array(f.image);
        try {
          // Embedded concurrently: the vision tower's micro-batcher runs them as one batch.
          const [e, id] = await Promise.all([kit.embedImage(bytes), sha256Hex(bytes)]);
          const metadata: Metadata = { name: f.name.slice(0, MAX_NAME_CHARS) };
          if (f.thumb && f.thumb.length <= MAX_THUMB_CHARS) metadata.thumb = f.thumb;
          return { id, vector: e.embedding, metadata };
        } catch (e) {
          return failure(f.name, e);
        }
      }),
    );
    // The same photo picked twice is one record (sha256 ids): the last copy's name wins.
    const records = new Map<string, VectorRecord>();
    const failed: PhotoFailure[] = [];
    for (const o of outcomes) {
      if ('vector' in o) records.set(o.id, o);
      else failed.push(o);
    }
    if (records.size) {
      await idx.upsert([...records.values()], { model });
      await idx.persist();
    }
    const added = [...records.values()].map((r) => photoOf(r.id, r.metadata));
    return { op: 'add', added, failed, count: await idx.count(), ms: performance.now() - t0 };
  }

  async function search(op: 'search-text' | 'search-photo', vector: () => Promise<Float32Array>, topK: number): Promise<PhotosReply> {
    const t0 = performance.now();
    const idx = await index();
    const count = await idx.count();
    const v = await vector();
    const matches: PhotoMatch[] = count ? (await idx.query(v, { topK: Math.min(topK, idx.limits.maxTopKWithMetadata) })).map((m) => ({ ...photoOf(m.id, m.metadata), score: m.score })) : [];
    return { op, matches, count, ms: performance.now() - t0 };
  }

  const textVector = async (text: string) => {
    if (!kit.hasText) throw new ClipEdgeError('TEXT_ENCODER_UNAVAILABLE', `${model} has no text encoder, so it cannot search by text: tap a photo to find similar ones`);
    if (typeof text !== 'string' || !text.trim()) throw new ClipEdgeError('BAD_INPUT', 'type what to look for');
    return (await kit.embedText([text.trim()])).embeddings[0]!;
  };

  const photoVector = async (id: string) => {
    const stored = (await index()).get(id);
    if (!stored) throw new ClipEdgeError('NOT_FOUND', 'that photo is no longer in the index');
    return stored.vector;
  };

  return {
    async handle(r) {
      switch (r.op) {
        case 'add':
          return add(r.files);
        case 'search-text':
          return search(r.op, () => textVector(r.text), r.topK);
        case 'search-photo':
          return search(r.op, () => photoVector(r.photoId), r.topK);
        case 'list':
          return { op: 'list', photos: (await index()).list().map((p) => photoOf(p.id, p.metadata)) };
        case 'clear': {
          const idx = await index();
          const { deleted } = await idx.delete(idx.list().map((p) => p.id));
          await idx.persist();
          return { op: 'clear', deleted };
        }
      }
    },
  };
}
