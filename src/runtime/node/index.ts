export { createNodeClipEdge, DEFAULT_MODEL_DIR, BUILTIN_LABEL_SETS_DIR, PACKAGE_ROOT, type NodeClipEdgeOptions } from '../fs/create.ts';
export { serveNode, type RunningServer } from './serve.ts';
export { wasmBackend, nativeBackend, defaultNodeBackends, type NodeBackendOptions } from '../fs/backends.ts';
export { fsModelSource } from '../fs/fs-source.ts';
export { dirLabelSets, readLabelSetFile } from '../fs/label-sets.ts';
export { nodeImageCodecs } from '../fs/codecs.ts';
export { pullModel, type PullOptions, type PullResult } from '../../hub/pull.ts';
export * from '../../index.ts';
