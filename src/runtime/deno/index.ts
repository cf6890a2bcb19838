export { serveDeno } from './serve.ts';
export { createNodeClipEdge as createDenoClipEdge, DEFAULT_MODEL_DIR } from '../node/create.ts';
export { loadClipEdge, type LoadClipEdgeOptions } from '../node/load.ts';
export { createPullProgress } from '../node/pull-progress.ts';
export * from '../../index.ts';
