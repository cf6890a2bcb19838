// The Node entry's declarations use Node's types (serveNode returns @hono/node-server's server, whose
// own declarations import node:http). TypeScript 6+ no longer loads @types packages unless a tsconfig
// lists them, so this directive (kept in the emitted .d.ts by preserve) loads @types/node for a
// consumer that has it installed, with no `types` setting. The root entry stays free of Node types.
/// <reference types="node" preserve="true" />
export { createNodeClipEdge, type NodeClipEdgeOptions } from './create.ts';
export { DEFAULT_MODEL_DIR, BUILTIN_LABEL_SETS_DIR, PACKAGE_ROOT } from '../fs/paths.ts';
export { serveNode, type RunningServer } from './serve.ts';
export { wasmBackend, nativeBackend, defaultNodeBackends, type NodeBackendOptions } from '../fs/ort.ts';
export { threadedNodeBackends } from '../fs/inference-thread.ts';
export { fsModelSource } from '../fs/model-source.ts';
export { dirLabelSets, readLabelSetFile } from '../fs/label-sets.ts';
export { nodeImageCodecs } from '../fs/codecs.ts';
export { pullModel, type PullOptions, type PullResult, type PullEvent } from '../../hub/pull.ts';
export { createPullProgress, type PullProgress, type PullProgressOptions } from '../../hub/progress.ts';
export { loadClipEdge, type LoadClipEdgeOptions } from '../fs/load.ts';
export { readImagePath } from '../fs/image-path.ts';
export * from '../../index.ts';
export { createLanceDbIndex, readLanceDbIndexInfo, type LanceDbIndex, type LanceDbIndexOptions } from '../../search/drivers/lancedb.ts';
export { MAINTENANCE_DEFAULTS, type LanceDbMaintenanceOptions, type OptimizeReport } from '../../search/drivers/lancedb-maintenance.ts';
export { ANN_DEFAULTS, type AnnIndexType, type LanceDbAnnOptions } from '../../search/drivers/lancedb-ann.ts';
export { openNodeIndex, type NodeIndexOptions, type DriverIndexOptions, type FsIndexOptions } from '../fs/search-index.ts';
export { fsAdapter, DEFAULT_NODE_DECODE_BUDGET_BYTES, type FsPlace } from '../fs/adapter.ts';
export { createFromAdapter, type RuntimeAdapter, type AdapterOverrides } from '../adapter.ts';
