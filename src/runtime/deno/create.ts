// Deno runs the fs adapter (src/runtime/fs/): the same model folder, backends and caches as Node,
// with WASM by default (onnxruntime-node is a Node add-on), decodes and inference in worker threads as on Node.
export { createNodeClipEdge as createDenoClipEdge, type NodeClipEdgeOptions as DenoClipEdgeOptions } from '../fs/create.ts';
