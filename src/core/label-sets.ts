import { ClipEdgeError } from './errors.ts';
import type { ModelSource } from './model/source.ts';

/**
 * Labels typed as one string — a `labels` query value, `clip-edge classify --labels`, the page's
 * text box — split on commas (and, with `lines`, new lines), trimmed, empties dropped. Repeated
 * `labels` fields are taken verbatim instead, so a label can hold a comma.
 */
export const splitLabels = (text: string, o: { lines?: boolean } = {}): string[] =>
  text
    .split(o.lines ? /[\n,]/ : ',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Zero-shot classes and the prompt templates they are read through (CLIP paper, §3.1.4). */
export interface LabelSet {
  readonly name: string;
  /** Display name of each class (its first synonym). */
  readonly labels: readonly string[];
  /** All names of each class; their prompt embeddings are averaged together (as CLIP's FER2013 list does). */
  readonly synonyms: readonly (readonly string[])[];
  /** Templates with `{}` where the class name goes. */
  readonly templates: readonly string[];
}

export interface LabelSetLimits {
  /** @defaultValue 1000 */
  maxLabels?: number;
  /** Characters per class name. @defaultValue 200 */
  maxLabelLength?: number;
  /** @defaultValue 100 */
  maxTemplates?: number;
  /**
   * Accept two classes with the same name. Off for user input; on for openai/CLIP's ImageNet list,
   * which has "missile" (and a few others) twice as distinct classes. @defaultValue false
   */
  allowDuplicates?: boolean;
}

const bad = (msg: string) => new ClipEdgeError('BAD_INPUT', msg);

/** Checks and normalises class names and templates; errors say which entry is wrong. */
export function makeLabelSet(
  name: string,
  classes: readonly (string | readonly string[])[],
  templates: readonly string[],
  limits: LabelSetLimits = {},
): LabelSet {
  const maxLabels = limits.maxLabels ?? 1000;
  const maxLen = limits.maxLabelLength ?? 200;
  const maxTemplates = limits.maxTemplates ?? 100;
  if (!Array.isArray(classes) || classes.length === 0) throw bad(`label set "${name}" has no classes`);
  if (classes.length > maxLabels) {
    throw new ClipEdgeError('TOO_MANY_LABELS', `label set "${name}" has ${classes.length} classes; the limit is ${maxLabels}`);
  }
  if (!Array.isArray(templates) || templates.length === 0) throw bad(`label set "${name}" has no templates`);
  if (templates.length > maxTemplates) throw bad(`label set "${name}" has ${templates.length} templates; the limit is ${maxTemplates}`);
  templates.forEach((t, i) => {
    if (typeof t !== 'string' || !t.includes('{}')) throw bad(`template ${i} of "${name}" must be a string containing {}`);
    if (t.length > 4 * maxLen) throw bad(`template ${i} of "${name}" is longer than ${4 * maxLen} characters`);
  });
  const synonyms = classes.map((c, i) => {
    const raw: readonly unknown[] = typeof c === 'string' ? [c] : Array.isArray(c) ? c : [c];
    const names = raw.map((s) => (typeof s === 'string' ? s.trim().replace(/\s+/g, ' ') : s));
    if (!Array.isArray(names) || names.length === 0 || names.some((s) => typeof s !== 'string' || s === '')) {
      throw bad(`class ${i} of "${name}" must be a non-empty string or list of non-empty strings`);
    }
    const long = names.find((s) => (s as string).length > maxLen);
    if (long !== undefined) throw bad(`class ${i} of "${name}" is longer than ${maxLen} characters (${(long as string).length})`);
    return names as string[];
  });
  const labels = synonyms.map((s) => s[0]!);
  const seen = new Map<string, number>();
  if (!limits.allowDuplicates) labels.forEach((l, i) => {
    const key = l.toLowerCase();
    if (seen.has(key)) throw bad(`label set "${name}" lists "${l}" twice (classes ${seen.get(key)} and ${i})`);
    seen.set(key, i);
  });
  return { name, labels, synonyms, templates: [...templates] };
}

/**
 * Parses a label set file in the form of openai/CLIP's prompt lists:
 * `{"dataset"?, "classes": [name | [synonyms…]], "templates": ["a photo of a {}.", …]}`.
 */
export function parseLabelSet(json: unknown, name: string, limits?: LabelSetLimits): LabelSet {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad(`label set "${name}" must be a JSON object`);
  const o = json as Record<string, unknown>;
  if (!Array.isArray(o.classes)) throw bad(`label set "${name}" needs a "classes" array`);
  if (!Array.isArray(o.templates)) throw bad(`label set "${name}" needs a "templates" array`);
  return makeLabelSet(name, o.classes as (string | string[])[], o.templates as string[], limits);
}

/** The prompts to embed for a label set, and which prompt rows belong to each class. */
export function expandPrompts(set: LabelSet): { texts: string[]; groups: number[][] } {
  const texts: string[] = [];
  const groups = set.synonyms.map((names) => {
    const rows: number[] = [];
    for (const n of names) {
      for (const t of set.templates) {
        rows.push(texts.length);
        texts.push(t.replaceAll('{}', n));
      }
    }
    return rows;
  });
  return { texts, groups };
}

/** Finds label sets by name (built-in files, a model's own sets, a KV namespace, …). */
export interface LabelSetProvider {
  list(): Promise<string[]>;
  get(name: string): Promise<LabelSet | undefined>;
}

/** Label sets from a fixed record of JSON values (for bundles and tests). */
export function staticLabelSets(sets: Record<string, unknown>, limits?: LabelSetLimits): LabelSetProvider {
  return {
    list: async () => Object.keys(sets).sort(),
    get: async (name) => (Object.hasOwn(sets, name) ? parseLabelSet(sets[name], name, limits) : undefined),
  };
}

/** Looks names up in each provider in turn; lists the union. */
export function chainLabelSets(...providers: LabelSetProvider[]): LabelSetProvider {
  return {
    list: async () => [...new Set((await Promise.all(providers.map((p) => p.list()))).flat())].sort(),
    async get(name) {
      for (const p of providers) {
        const s = await p.get(name);
        if (s) return s;
      }
      return undefined;
    },
  };
}

/**
 * openai/CLIP's ImageNet notebook also picks 7 of its 80 templates: a set whose JSON has
 * `templates_selected_7` is offered as `<name>-7` too, with those templates. Every provider reads
 * subsets through these two helpers.
 */
export const TEMPLATE_SUBSET = Object.freeze({ suffix: '-7', field: 'templates_selected_7' });

/** The JSON of set `name`, or of the `-7` subset of its base set; `read` returns a set's JSON or undefined. */
export async function readWithSubset(
  read: (name: string) => Promise<Record<string, unknown> | undefined>,
  name: string,
): Promise<Record<string, unknown> | undefined> {
  const json = await read(name);
  if (json || !name.endsWith(TEMPLATE_SUBSET.suffix)) return json;
  const base = await read(name.slice(0, -TEMPLATE_SUBSET.suffix.length));
  return base && Array.isArray(base[TEMPLATE_SUBSET.field]) ? { ...base, templates: base[TEMPLATE_SUBSET.field] } : undefined;
}

/** `name` plus its `-7` subset when its JSON has one. */
export const withSubsetName = (name: string, json: Record<string, unknown> | string): string[] =>
  (typeof json === 'string' ? json.includes(`"${TEMPLATE_SUBSET.field}"`) : Array.isArray(json[TEMPLATE_SUBSET.field])) ? [name, name + TEMPLATE_SUBSET.suffix] : [name];

/** Label set names are file-name-like: letters, digits, `-`, `_`, `.`; no paths. */
export const LABEL_SET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * The model folder's own label sets (`label-sets/<name>.json`, openai/CLIP's form), read through its
 * ModelSource and parsed once. `list` names them (R2 can list a prefix; static assets and the browser
 * cannot, so they give a fixed list); `sort` orders that list by name.
 */
export function sourceLabelSets(
  source: ModelSource,
  list: () => Promise<string[]> = async () => [],
  options: { limits?: LabelSetLimits; sort?: boolean } = {},
): LabelSetProvider {
  const parsed = new Map<string, LabelSet | undefined>();
  return {
    list: async () => {
      const names = (await list()).filter((n) => LABEL_SET_NAME.test(n));
      return options.sort ? names.sort() : names;
    },
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
        set = parseLabelSet(json, name, options.limits);
      }
      parsed.set(name, set);
      return set;
    },
  };
}
