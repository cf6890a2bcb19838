// The default search index on Node, Deno and Bun: LanceDB in a folder (`--db <dir>`).
import type { ClipEdge } from '../../core/clip.ts';
import { createLanceDbIndex, type LanceDbIndex } from '../../search/drivers/lancedb.ts';
import type { LanceDbAnnOptions } from '../../search/drivers/lancedb-ann.ts';
import type { LanceDbMaintenanceOptions } from '../../search/drivers/lancedb-maintenance.ts';
import type { FieldType } from '../../search/types.ts';

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

/** Opens (or creates) the index for the loaded model's embeddings. */
export function openNodeIndex(clip: Pick<ClipEdge, 'info'>, o: NodeIndexOptions): Promise<LanceDbIndex> {
  return createLanceDbIndex({
    uri: o.db,
    model: clip.info.id,
    dim: clip.info.embedDim,
    ...(o.storageOptions ? { storageOptions: o.storageOptions } : {}),
    ...(o.table ? { table: o.table } : {}),
    ...(o.fields ? { fields: o.fields } : {}),
    ...(o.ann !== undefined ? { ann: o.ann } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...(o.maintenance !== undefined ? { maintenance: o.maintenance } : {}),
  });
}
