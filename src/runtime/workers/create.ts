import type { ClipEdgeOptions } from '../../core/clip.ts';
import type { ClipEdgeKit } from '../../core/kit.ts';
import type { ModelSource } from '../../core/model/source.ts';
import { createFromAdapter } from '../adapter.ts';
import { workersAdapter } from './adapter.ts';
import type { WorkersEnv } from './bindings.ts';
import { workersConfig } from './config.ts';

export { DEFAULT_WORKERS_MODEL, type WorkersConfig, workersConfig } from './config.ts';

export interface WorkersClipEdgeOptions extends Partial<Omit<ClipEdgeOptions, 'source'>> {
  /** Replace the model source chosen from the bindings. */
  source?: ModelSource;
}

/**
 * clip-edge on Workers: the model folder from R2 (or static assets), ORT's precompiled wasm,
 * prompt caches from KV (then R2), vision tower only unless `CLIP_EDGE_TEXT=true`; with a TEXT
 * service binding, the text Worker embeds what no cache holds. `.core` is the bytes-only kit.
 */
export function createWorkersClipEdge(env: WorkersEnv, options: WorkersClipEdgeOptions = {}): Promise<ClipEdgeKit> {
  return createFromAdapter(workersAdapter, { env, cfg: workersConfig(env) }, options);
}
