export { createNodeClipEdge, DEFAULT_MODEL_DIR, BUILTIN_LABEL_SETS_DIR, PACKAGE_ROOT, type NodeClipEdgeOptions } from './create.ts';
export { serveNode, type RunningServer } from './serve.ts';
export { wasmBackend, nativeBackend, defaultNodeBackends, type NodeBackendOptions } from './backends.ts';
export { fsModelSource } from './fs-source.ts';
export { dirLabelSets, readLabelSetFile } from './label-sets.ts';
export { nodeImageCodecs } from './codecs.ts';
export { pullModel, type PullOptions, type PullResult } from '../../hub/pull.ts';
export * from '../../index.ts';
