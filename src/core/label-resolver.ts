import { ClipEdgeError } from './errors.ts';
import { type LabelSet, type LabelSetProvider, LABEL_SET_NAME, makeLabelSet } from './label-sets.ts';
import type { ClipLimits } from './limits.ts';
import type { ClassifyRequest } from './types.ts';

export interface LabelResolver {
  /** A stored label set by name (`labelSet=`); UNKNOWN_LABEL_SET lists the known names. */
  get(name: string): Promise<LabelSet>;
  list(): Promise<string[]>;
  /** The label set a classify request asks for (named or inline), with the request limits applied. */
  resolve(request: ClassifyRequest): Promise<LabelSet>;
}

/** Turns a request's `labels` / `labelSet` / `templates` into one checked LabelSet. */
export function createLabelResolver(opts: {
  labelSets?: LabelSetProvider;
  limits: Readonly<ClipLimits>;
  defaultTemplates: readonly string[];
}): LabelResolver {
  const { labelSets, limits } = opts;
  const list = async () => (await labelSets?.list()) ?? [];

  const get = async (name: string): Promise<LabelSet> => {
    if (!LABEL_SET_NAME.test(name) || name === 'inline') throw new ClipEdgeError('BAD_INPUT', 'labelSet must be a name of letters, digits, ".", "_" or "-"');
    const set = await labelSets?.get(name).catch((cause: unknown) => {
      throw new ClipEdgeError('MODEL_INVALID', `label set "${name}" is invalid on the server`, { cause });
    });
    if (!set) throw new ClipEdgeError('UNKNOWN_LABEL_SET', `unknown label set "${name}"; known: ${(await list()).join(', ') || 'none'}`);
    return set;
  };

  const resolve = async (req: ClassifyRequest): Promise<LabelSet> => {
    if (req.templates !== undefined && req.templates.length > limits.maxTemplates) {
      throw new ClipEdgeError('BAD_INPUT', `${req.templates.length} templates given; the limit is ${limits.maxTemplates}`);
    }
    if (req.labelSet !== undefined && req.labels !== undefined) {
      throw new ClipEdgeError('BAD_INPUT', 'give either labels or labelSet, not both');
    }
    if (req.labelSet !== undefined) {
      const set = await get(req.labelSet);
      // Other templates make another set: it must not be stored under the named set's key.
      return req.templates ? makeLabelSet('inline', set.synonyms, req.templates, { maxLabels: limits.maxLabelSetClasses, allowDuplicates: true }) : set;
    }
    if (req.labels === undefined) throw new ClipEdgeError('BAD_INPUT', 'give labels (class names) or labelSet');
    if (req.labels.length > limits.maxLabels) {
      throw new ClipEdgeError('TOO_MANY_LABELS', `${req.labels.length} labels given; the limit is ${limits.maxLabels}`);
    }
    return makeLabelSet('inline', req.labels, req.templates ?? opts.defaultTemplates, {
      maxLabels: limits.maxLabels,
      maxLabelLength: limits.maxLabelLength,
      maxTemplates: limits.maxTemplates,
    });
  };

  return { get, list, resolve };
}
