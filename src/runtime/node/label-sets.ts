import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ClipEdgeError } from '../../core/errors.ts';
import { type LabelSetLimits, type LabelSetProvider, LABEL_SET_NAME, parseLabelSet } from '../../core/label-sets.ts';

/**
 * Label sets stored as `<name>.json` files in a folder, in openai/CLIP's prompt form
 * (`{"classes": [...], "templates": [...]}`). Parsed sets are kept in memory.
 */
export function dirLabelSets(dir: string, limits?: LabelSetLimits): LabelSetProvider {
  const cache = new Map<string, ReturnType<typeof parseLabelSet>>();
  const list = async () => {
    try {
      return (await readdir(dir)).filter((f) => f.endsWith('.json') && f !== 'index.json').map((f) => f.slice(0, -5)).filter((n) => LABEL_SET_NAME.test(n));
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
      let text: string;
      try {
        text = await readFile(path.join(dir, `${name}.json`), 'utf8');
      } catch {
        return undefined;
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (cause) {
        throw new ClipEdgeError('BAD_INPUT', `label set file ${name}.json is not valid JSON`, { cause });
      }
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
