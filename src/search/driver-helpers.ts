// What the index drivers (src/search/drivers/*) share beyond validation (validate.ts): the error of
// an index filled for another model, the shape of a match, and the chunked "which of these ids are
// stored" look-up of the drivers over a remote store.
import { ClipEdgeError } from '../core/errors.ts';
import type { Match, Metadata } from './types.ts';

/** INDEX_MISMATCH: `where` holds vectors of another model or width than the index was opened for. */
export function mismatch(stored: { model: string; dim: number }, wanted: { model: string; dim: number }, where: string): ClipEdgeError {
  return new ClipEdgeError(
    'INDEX_MISMATCH',
    `${where} holds ${stored.dim}-dimensional vectors of "${stored.model}", not ${wanted.dim}-dimensional vectors of "${wanted.model}": use another index for another model`,
    { details: { indexModel: stored.model, indexDim: stored.dim, model: wanted.model, dim: wanted.dim } },
  );
}

/** One query answer; `metadata` is only called (it may parse or copy) when the query asked for metadata. */
export const toMatch = (id: string, score: number, includeMetadata: boolean, metadata: () => Metadata): Match =>
  includeMetadata ? { id, score, metadata: metadata() } : { id, score };

/** Which of `ids` the store holds, asked `chunk` ids at a time (the store's limit per look-up). */
export async function presentIds(ids: readonly string[], chunk: number, lookup: (ids: string[]) => Promise<Iterable<string>>): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += chunk) for (const id of await lookup(ids.slice(i, i + chunk))) found.add(id);
  return found;
}
