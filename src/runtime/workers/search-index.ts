// The default search index on Workers: the Vectorize binding VECTORIZE.
import type { ClipEdge } from '../../core/clip.ts';
import { createVectorizeIndex } from '../../search/drivers/cloudflare-vectorize-binding.ts';
import type { VectorIndex } from '../../search/types.ts';
import type { WorkersEnv } from './bindings.ts';

/** The Vectorize index for the loaded model's embeddings (search and the index queue share it). */
export const vectorizeIndexOf = (env: WorkersEnv) => (clip: ClipEdge): Promise<VectorIndex> =>
  createVectorizeIndex({ binding: 'VECTORIZE', env: env as unknown as Record<string, unknown>, model: clip.info.id, dim: clip.info.embedDim });
