import { ClipEdgeError } from '../../core/errors.ts';
import { type LabelSet, type LabelSetProvider, LABEL_SET_NAME, parseLabelSet } from '../../core/label-sets.ts';
import type { ModelSource } from '../../core/model/source.ts';

/**
 * Label sets served beside the model as `label-sets/<name>.json` (openai/CLIP's form), read
 * through its ModelSource; `list` names those the page offers.
 */
export function sourceLabelSets(source: ModelSource, list: () => Promise<string[]>): LabelSetProvider {
  const parsed = new Map<string, LabelSet | undefined>();
  return {
    list: async () => (await list()).filter((n) => LABEL_SET_NAME.test(n)),
    async get(name) {
      if (!LABEL_SET_NAME.test(name)) return undefined;
      if (parsed.has(name)) return parsed.get(name);
      const bytes = await source.read(`label-sets/${name}.json`);
      let set: LabelSet | undefined;
      if (bytes) {
        let json: unknown;
        try {
          json = JSON.parse(new TextDecoder().decode(bytes));
        } catch (cause) {
          throw new ClipEdgeError('BAD_INPUT', `label set file ${name}.json is not valid JSON`, { cause });
        }
        set = parseLabelSet(json, name, { allowDuplicates: true });
      }
      parsed.set(name, set);
      return set;
    },
  };
}
