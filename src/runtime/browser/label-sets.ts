import { type LabelSetProvider, sourceLabelSets as coreSourceLabelSets } from '../../core/label-sets.ts';
import type { ModelSource } from '../../core/model/source.ts';

/**
 * Label sets served beside the model as `label-sets/<name>.json` (openai/CLIP's form), read
 * through its ModelSource; `list` names those the page offers, in the page's order.
 */
export function sourceLabelSets(source: ModelSource, list: () => Promise<string[]>): LabelSetProvider {
  return coreSourceLabelSets(source, list, { limits: { allowDuplicates: true } });
}
