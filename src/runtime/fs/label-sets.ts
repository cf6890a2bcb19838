import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ClipEdgeError } from '../../core/errors.ts';
import { BUILTIN_LABEL_SETS_DIR } from './paths.ts';
import { chainLabelSets, type LabelSetLimits, type LabelSetProvider, LABEL_SET_NAME, parseLabelSet, readWithSubset, withSubsetName } from '../../core/label-sets.ts';

/**
 * Label sets stored as `<name>.json` files in a folder, in openai/CLIP's prompt form
 * (`{"classes": [...], "templates": [...]}`; a `templates_selected_7` list adds `<name>-7`).
 * Parsed sets are kept in memory.
 */
export function dirLabelSets(dir: string, limits?: LabelSetLimits): LabelSetProvider {
  const cache = new Map<string, ReturnType<typeof parseLabelSet>>();
  const list = async () => {
    try {
      const files = (await readdir(dir)).filter((f) => f.endsWith('.json') && f !== 'index.json');
      const names = files.map((f) => f.slice(0, -5)).filter((n) => LABEL_SET_NAME.test(n));
      const withSubsets = await Promise.all(names.map(async (n) => withSubsetName(n, await readFile(path.join(dir, `${n}.json`), 'utf8'))));
      return withSubsets.flat().sort();
    } catch {
      return [];
    }
  };
  return {
    list,
    async get(name) {
      if (!LABEL_SET_NAME.test(name)) return undefined;
      const hit = cache.get(name);
      if (hit) return hit;
      const read = async (file: string): Promise<Record<string, unknown> | undefined> => {
        let text: string;
        try {
          text = await readFile(path.join(dir, `${file}.json`), 'utf8');
        } catch {
          return undefined;
        }
        try {
          return JSON.parse(text) as Record<string, unknown>;
        } catch (cause) {
          throw new ClipEdgeError('BAD_INPUT', `label set file ${file}.json is not valid JSON`, { cause });
        }
      };
      const json = await readWithSubset(read, name);
      if (!json) return undefined;
      const set = parseLabelSet(json, name, limits);
      cache.set(name, set);
      return set;
    },
  };
}

/** A label set from a user's JSON file; its name is the file's base name unless given. */
export async function readLabelSetFile(file: string, name?: string, limits?: LabelSetLimits) {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (cause) {
    throw new ClipEdgeError('BAD_INPUT', `could not read label set file ${file}: ${(cause as Error).message}`, { cause });
  }
  return parseLabelSet(json, name ?? path.basename(file).replace(/\.json$/i, ''), limits);
}

/** A model folder's label sets: its `label-sets/` folder, then openai/CLIP's built-in lists. */
export function modelLabelSets(dir: string, maxLabels?: number): LabelSetProvider {
  return chainLabelSets(dirLabelSets(path.join(dir, 'label-sets'), { maxLabels }), dirLabelSets(BUILTIN_LABEL_SETS_DIR, { allowDuplicates: true, maxLabels }));
}
