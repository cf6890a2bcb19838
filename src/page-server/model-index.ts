import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ClipEdge } from '../core/clip.ts';
import { MODEL_WEB_INDEX, type ModelWebIndex } from '../core/model/web-index.ts';

/** What the page may fetch from a model folder: files on disk, plus label sets rendered from the server's provider. */
export interface ServedModel {
  index: ModelWebIndex;
  /** Folder-relative path → absolute file, or the bytes of a generated file. */
  files: Map<string, { file: string } | { bytes: Uint8Array }>;
}

const METADATA = ['manifest.json', 'config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const exists = (file: string) => readFile(file).then((b) => new Uint8Array(b), () => undefined);

/**
 * The model folder as the browser page sees it: metadata, every ONNX variant the manifest lists
 * (size and sha256 from the manifest, computed where it has none), the prompt caches in
 * `prompts/` whose label set the server knows, and those label sets as `label-sets/<name>.json`
 * (built-in ones included), so the page validates each cache against the very classes and
 * templates the server uses.
 */
export async function serveModelFolder(dir: string, clip: ClipEdge): Promise<ServedModel> {
  const files: ServedModel['files'] = new Map();
  const listed: ModelWebIndex['files'] = {};
  const add = async (rel: string, entry: { file: string } | { bytes: Uint8Array }, known?: { bytes?: number; sha256?: string }) => {
    if (known?.bytes !== undefined && known.sha256) {
      listed[rel] = { bytes: known.bytes, sha256: known.sha256 };
    } else {
      const bytes = 'bytes' in entry ? entry.bytes : await exists(entry.file);
      if (!bytes) return;
      listed[rel] = { bytes: bytes.byteLength, sha256: sha256(bytes) };
    }
    files.set(rel, entry);
  };
  for (const name of METADATA) await add(name, { file: path.join(dir, name) });
  for (const towers of Object.values(clip.info.variants)) {
    for (const t of Object.values(towers ?? {})) await add(t.file, { file: path.join(dir, ...t.file.split('/')) }, t);
  }
  const own = new Set((await readdir(path.join(dir, 'label-sets')).catch(() => [])).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)));
  const cached = (await readdir(path.join(dir, 'prompts')).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
  const labelSets: string[] = [];
  for (const name of cached.sort()) {
    const set = await clip.labelSet(name).catch(() => undefined);
    if (!set || !(await exists(path.join(dir, 'prompts', `${name}.bin`)))) continue;
    const json = { classes: set.synonyms.map((s) => (s.length === 1 ? s[0] : s)), templates: set.templates };
    await add(`label-sets/${name}.json`, { bytes: new TextEncoder().encode(JSON.stringify(json)) });
    await add(`prompts/${name}.json`, { file: path.join(dir, 'prompts', `${name}.json`) });
    await add(`prompts/${name}.bin`, { file: path.join(dir, 'prompts', `${name}.bin`) });
    labelSets.push(name);
  }
  labelSets.sort((a, b) => Number(own.has(b)) - Number(own.has(a)) || a.localeCompare(b));
  return { index: { format: 'clip-edge/model-web-index@1', id: clip.info.id, files: listed, labelSets }, files };
}

export { MODEL_WEB_INDEX };
