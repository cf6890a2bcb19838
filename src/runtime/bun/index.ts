export { serveBun } from './serve.ts';
export { createNodeClipEdge as createBunClipEdge, DEFAULT_MODEL_DIR } from '../fs/create.ts';
export * from '../../index.ts';
