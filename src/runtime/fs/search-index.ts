// The search index on Node, Deno and Bun: LanceDB in a folder (`--db <dir>`) by default, or any
// driver through `open` (a driver's create…Index with its own options bound). A new driver needs no
// edit here: it is one file in src/search/drivers/ that the caller names in `open`.
import type { ClipEdge } from '../../core/clip.ts';
import { createLanceDbIndex, type LanceDbIndex } from '../../search/drivers/lancedb.ts';
import type { LanceDbAnnOptions } from '../../search/drivers/lancedb-ann.ts';
import type { LanceDbMaintenanceOptions } from '../../search/drivers/lancedb-maintenance.ts';
import type { FieldType, IndexOpener, VectorIndex } from '../../search/types.ts';

/** The default driver's options: LanceDB. */
export interface NodeIndexOptions {
  /** A folder, or `s3://bucket/prefix` with `storageOptions` (R2, S3). */
  db: string;
  storageOptions?: Record<string, string>;
  /** @defaultValue 'images' */
  table?: string;
  fields?: Record<string, FieldType>;
  /** The approximate index (settings in lancedb-ann.ts), or false: exact search. @defaultValue the LanceDB driver's */
  ann?: LanceDbAnnOptions | false;
  /** Progress lines of long steps (building the approximate index), failed background maintenance. @defaultValue silent */
  log?: (line: string) => void;
  /** Compaction and old-version cleanup (lancedb-maintenance.ts), or false: only optimize(). @defaultValue the LanceDB driver's */
  maintenance?: LanceDbMaintenanceOptions | false;
}

/** Any driver, e.g. `{ open: (space) => createMemoryIndex({ ...space, store }) }`. */
export interface DriverIndexOptions {
  /** Opens the driver for the loaded model's space (`model`, `dim`, and `fields` below). */
  open: IndexOpener;
  /** Metadata fields queries may filter on. @defaultValue none */
  fields?: Record<string, FieldType>;
}

/** The search index of a Node, Deno or Bun kit or server: LanceDB options, or any driver's opener. */
export type FsIndexOptions = NodeIndexOptions | DriverIndexOptions;

/** Opens (or creates) the index for the loaded model's embeddings. */
export function openNodeIndex(clip: Pick<ClipEdge, 'info'>, o: NodeIndexOptions): Promise<LanceDbIndex>;
export function openNodeIndex(clip: Pick<ClipEdge, 'info'>, o: FsIndexOptions): Promise<VectorIndex>;
export function openNodeIndex(clip: Pick<ClipEdge, 'info'>, o: FsIndexOptions): Promise<VectorIndex> {
  const space = { model: clip.info.id, dim: clip.info.embedDim, ...(o.fields ? { fields: o.fields } : {}) };
  if ('open' in o) return o.open(space);
  return createLanceDbIndex({
    ...space,
    uri: o.db,
    ...(o.storageOptions ? { storageOptions: o.storageOptions } : {}),
    ...(o.table ? { table: o.table } : {}),
    ...(o.ann !== undefined ? { ann: o.ann } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...(o.maintenance !== undefined ? { maintenance: o.maintenance } : {}),
  });
}
