// The LanceDB driver's maintenance: every commit adds a version (a manifest listing every data
// file) and a data file, and a replaced or deleted row stays on disk until compaction rewrites its
// file, so a folder written one image at a time grows quadratically (1,537 single writes: 102 MB
// and 4,623 files, against 0.88 MB written in batches) and its searches slow down (each small file
// is read separately). The kit compacts small files and deletes old versions itself, after a number
// of commits or rows since the last run, in the background of the writes (queries are not blocked:
// they read the version they started on).
import { ClipEdgeError } from '../../core/errors.ts';

export interface LanceDbMaintenanceOptions {
  /** Maintenance runs after this many commits (writes grouped together count once) since the last run. @defaultValue 100 */
  everyCommits?: number;
  /** … or after this many rows written (upserted or deleted) since the last run. @defaultValue 10_000 */
  everyRows?: number;
  /**
   * Old versions younger than this many milliseconds are kept (LanceDB's time travel, backups that
   * copy the folder while it is written); older ones and the files only they use are deleted. 0 keeps
   * the current version only. @defaultValue 0
   */
  keepVersionsMs?: number;
}

export type MaintenanceSettings = Required<LanceDbMaintenanceOptions>;

export const MAINTENANCE_DEFAULTS: Readonly<MaintenanceSettings> = Object.freeze({ everyCommits: 100, everyRows: 10_000, keepVersionsMs: 0 });

/** What one maintenance run did (LanceDB's optimize statistics). */
export interface OptimizeReport {
  /** Data files merged away by compaction, and the files written instead. */
  filesRemoved: number;
  filesAdded: number;
  /** Old versions deleted, and the bytes their files took. */
  versionsRemoved: number;
  bytesRemoved: number;
  ms: number;
}

const bad = (message: string) => new ClipEdgeError('BAD_INPUT', message);

function count(o: LanceDbMaintenanceOptions, key: keyof LanceDbMaintenanceOptions, min: number): void {
  const v = o[key];
  if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) throw bad(`maintenance.${key} must be an integer ≥ ${min}, got ${String(v)}`);
}

/** Checked settings with defaults; `false`: no automatic runs (persist() and optimize() still run it). */
export function maintenanceSettings(o: LanceDbMaintenanceOptions | false | undefined): MaintenanceSettings | undefined {
  if (o === false) return undefined;
  if (o === undefined) return { ...MAINTENANCE_DEFAULTS };
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw bad('maintenance must be an object of settings, or false');
  for (const k of Object.keys(o)) {
    if (!Object.hasOwn(MAINTENANCE_DEFAULTS, k)) throw bad(`maintenance.${k} is not a setting (${Object.keys(MAINTENANCE_DEFAULTS).join(', ')})`);
  }
  count(o, 'everyCommits', 1);
  count(o, 'everyRows', 1);
  count(o, 'keepVersionsMs', 0);
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return { ...MAINTENANCE_DEFAULTS, ...given };
}

/** Counts commits and rows; starts `run` (not awaited by the writer) when a threshold is reached. */
export function maintenanceSchedule(settings: MaintenanceSettings | undefined, run: () => Promise<unknown>, log: (line: string) => void) {
  let commits = 0;
  let rows = 0;
  let running = false;
  return {
    /** After each commit. */
    committed(n: number): void {
      commits++;
      rows += n;
      if (!settings || running || (commits < settings.everyCommits && rows < settings.everyRows)) return;
      running = true;
      run()
        .catch((e: unknown) => log(`index maintenance failed (retried after the next ${settings.everyCommits} commits): ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => {
          running = false;
        });
    },
    /** When a run starts: what is written from now on counts towards the next one. */
    reset(): void {
      commits = 0;
      rows = 0;
    },
  };
}
