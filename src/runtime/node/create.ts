// Node runs the fs adapter (src/runtime/fs/), shared with Deno and Bun.
export { createNodeClipEdge, type NodeClipEdgeOptions } from '../fs/create.ts';
