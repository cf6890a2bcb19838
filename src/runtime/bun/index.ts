export { serveBun } from './serve.ts';
export { createBunClipEdge, type BunClipEdgeOptions } from './create.ts';
export { DEFAULT_MODEL_DIR } from '../fs/paths.ts';
export { loadClipEdge, type LoadClipEdgeOptions } from '../fs/load.ts';
export { createPullProgress } from '../../hub/progress.ts';
export * from '../../index.ts';
