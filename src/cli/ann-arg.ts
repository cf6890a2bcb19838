// `--ann <rows|off>` for clip-edge index, search and serve: the LanceDB driver's approximate index
// (its settings and measured defaults: src/search/drivers/lancedb-ann.ts, docs/search.md).
import type { LanceDbAnnOptions } from '../search/drivers/lancedb-ann.ts';
import { parseIntArg } from './common.ts';

export const annArg = {
  ann: { type: 'string', description: 'Approximate index: built once the index holds this many images (default 100000); "off": exact search', valueHint: 'rows|off' },
} as const;

/** `--ann <rows|off>` as the driver's `ann` option; undefined: the driver's default. */
export function parseAnnArg(v: string | undefined): LanceDbAnnOptions | false | undefined {
  if (v === undefined) return undefined;
  return v === 'off' ? false : { minRows: parseIntArg('ann', v)! };
}

/** The serve command's search settings: the folder, and `--ann` when given. */
export const searchOptions = (db: string, ann: LanceDbAnnOptions | false | undefined) => ({ db, ...(ann === undefined ? {} : { ann }) });
