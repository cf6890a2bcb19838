export { serveDeno } from './serve.ts';
export { createNodeClipEdge as createDenoClipEdge, DEFAULT_MODEL_DIR } from '../node/create.ts';
export * from '../../index.ts';
