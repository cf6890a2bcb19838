export { serveDeno } from './serve.ts';
export { createNodeClipEdge as createDenoClipEdge, DEFAULT_MODEL_DIR } from '../fs/create.ts';
export { loadClipEdge, type LoadClipEdgeOptions } from '../fs/load.ts';
export { createPullProgress } from '../../hub/progress.ts';
export * from '../../index.ts';
