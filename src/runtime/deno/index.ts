export { serveDeno } from './serve.ts';
export { createNodeClipEdge as createDenoClipEdge, DEFAULT_MODEL_DIR } from '../fs/create.ts';
export * from '../../index.ts';
