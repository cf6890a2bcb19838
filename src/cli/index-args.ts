// The index options of clip-edge index and serve beyond --db and --ann:
// `--field name:type`: the metadata fields a search may filter on, declared when the index is
// created and recorded with it (a later `serve --db` knows them). Repeatable
// (`--field album:string --field year:number`) or comma-separated.
// `--keep-versions <seconds>`: how long maintenance keeps old versions (docs/search.md).
import type { LanceDbMaintenanceOptions } from '../search/drivers/lancedb-maintenance.ts';
import { checkOptions } from '../search/validate.ts';
import type { FieldType } from '../search/types.ts';
import { fail } from './common.ts';

export const indexArgs = {
  field: {
    type: 'string',
    description: 'A filterable metadata field, name:string|number|boolean (repeatable, or comma-separated; fixed when the index is created). clip-edge index writes path, folder and bytes',
    valueHint: 'name:type',
  },
  'keep-versions': { type: 'string', description: 'Seconds that maintenance keeps old versions of the index (default 0: the current one only)', valueHint: 'seconds' },
} as const;

/** The index options these flags give (undefined: the driver's defaults). */
export function parseIndexArgs(rawArgs: readonly string[], args: { 'keep-versions'?: string }): { fields?: Record<string, FieldType>; maintenance?: LanceDbMaintenanceOptions } {
  const fields = parseFieldArgs(rawArgs);
  const keep = args['keep-versions'];
  let keepVersionsMs: number | undefined;
  if (keep !== undefined) {
    const s = Number(keep);
    if (!(s >= 0) || !Number.isFinite(s) || keep.trim() === '') fail(`--keep-versions must be a number of seconds ≥ 0, got "${keep}"`);
    keepVersionsMs = Math.round(s * 1000);
  }
  return { ...(fields ? { fields } : {}), ...(keepVersionsMs !== undefined ? { maintenance: { keepVersionsMs } } : {}) };
}

/** Every `--field` value of the command line (citty keeps only the last of a repeated flag). */
export function parseFieldArgs(rawArgs: readonly string[]): Record<string, FieldType> | undefined {
  const values: string[] = [];
  rawArgs.forEach((a, i) => {
    if (a === '--field') values.push(rawArgs[i + 1] ?? '');
    else if (a.startsWith('--field=')) values.push(a.slice('--field='.length));
  });
  if (!values.length) return undefined;
  const fields: Record<string, FieldType> = Object.create(null) as Record<string, FieldType>;
  for (const spec of values.flatMap((v) => v.split(',')).map((s) => s.trim())) {
    const m = /^([^:\s]+):(string|number|boolean)$/.exec(spec);
    if (!m) fail(`--field takes name:string, name:number or name:boolean, got "${spec}"`);
    if (Object.hasOwn(fields, m[1]!) && fields[m[1]!] !== m[2]) fail(`--field ${m[1]} is given twice with different types`);
    fields[m[1]!] = m[2] as FieldType;
  }
  try {
    checkOptions({ model: 'm', dim: 1, fields });
  } catch (e) {
    fail(`--field: ${(e as Error).message}`);
  }
  return { ...fields };
}
