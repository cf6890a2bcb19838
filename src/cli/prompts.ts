import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { defineCommand } from 'citty';
import { makeLabelSet } from '../core/label-sets.ts';
import { PRECISIONS } from '../core/precision.ts';
import { createNodeClipEdge, DEFAULT_MODEL_DIR } from '../runtime/fs/create.ts';
import { readLabelSetFile } from '../runtime/fs/label-sets.ts';
import { fsPromptCacheStore } from '../runtime/fs/prompt-cache.ts';
import { isInstalledPath, modelPromptCacheDir } from '../runtime/fs/user-cache.ts';
import { fail, guard, parseIntArg, progress } from './common.ts';

const isFile = (s: string) => /\.json$/i.test(s) || s.includes('/');

const build = defineCommand({
  meta: { name: 'build', description: 'Precompute a label set\'s class embeddings into <model>/prompts/<name>.{bin,json}' },
  args: {
    model: { type: 'string', description: 'Model folder (default: the bundled models/tiny-clip)' },
    labels: { type: 'string', description: 'A built-in or model label set name, or a JSON file {classes, templates}', required: true },
    templates: { type: 'string', description: 'Use the templates of this label set name or JSON file instead' },
    name: { type: 'string', description: 'Name of the cache (default: the label set name or the file\'s base name)' },
    dtype: { type: 'string', description: 'fp16 (half the bytes, same top-1) or fp32', default: 'fp16' },
    'text-variant': { type: 'string', description: `Text encoder used to build: ${PRECISIONS.join(', ')} or auto (fp32 when the folder has it, else the backend's choice)`, default: 'auto' },
    out: { type: 'string', description: 'Output folder (default: <model>/prompts; for a model inside node_modules, such as the installed package\'s bundled one, the per-user prompt cache the kit reads first)' },
    batch: { type: 'string', description: 'Prompts per text-encoder run', default: '256' },
  },
  run: ({ args }) =>
    guard(async () => {
      if (args.dtype !== 'fp16' && args.dtype !== 'fp32') fail('--dtype takes fp16 or fp32');
      const modelDir = path.resolve(args.model ?? DEFAULT_MODEL_DIR);
      const clip = await createNodeClipEdge({ model: modelDir, text: true, textVariant: args['text-variant'] as 'auto' });
      let set = isFile(args.labels) ? await readLabelSetFile(args.labels, args.name) : await clip.labelSet(args.labels);
      if (args.templates) {
        const t = isFile(args.templates) ? await readLabelSetTemplates(args.templates) : (await clip.labelSet(args.templates)).templates;
        set = makeLabelSet(set.name, set.synonyms, t, { maxLabels: 100_000, allowDuplicates: true });
      }
      const name = args.name ?? set.name;
      if (name !== set.name) set = { ...set, name };
      const prompts = set.synonyms.reduce((n, s) => n + s.length, 0) * set.templates.length;
      process.stderr.write(`embedding ${set.labels.length} classes × ${set.templates.length} templates = ${prompts} prompts with ${clip.info.id}\n`);
      const bar = progress(prompts, 'prompts');
      let last = 0;
      const t0 = performance.now();
      const entry = await clip.buildPromptCache(set, {
        dtype: args.dtype === 'fp16' ? 'float16' : 'float32',
        batch: parseIntArg('batch', args.batch),
        onProgress: (done) => {
          for (; last < done; last++) bar.tick();
        },
      });
      bar.stop();
      const out = args.out ?? defaultOut(modelDir);
      await fsPromptCacheStore(out).put(name, entry);
      process.stderr.write(
        `wrote ${path.join(out, `${name}.bin`)} (${entry.data.byteLength} bytes, ${entry.header.dtype}) and .json in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
      );
    }),
});

/**
 * `<model>/prompts`, except for a model inside node_modules (the installed package's bundled one):
 * an installed package is never written to, so the cache goes to the per-user folder that the kit
 * reads in front of the model's shipped caches (`$CLIP_EDGE_PROMPT_CACHE`, else ~/.cache/clip-edge).
 */
function defaultOut(modelDir: string): string {
  if (!isInstalledPath(modelDir)) return path.join(modelDir, 'prompts');
  return modelPromptCacheDir(modelDir) ?? fail(`${modelDir} is inside an installed package and there is no home folder for the per-user cache: give --out <folder>`);
}

async function readLabelSetTemplates(file: string): Promise<string[]> {
  const json = JSON.parse(await readFile(file, 'utf8')) as { templates?: unknown };
  if (!Array.isArray(json.templates) || !json.templates.every((t) => typeof t === 'string')) fail(`${file} has no "templates" list of strings`);
  return json.templates as string[];
}

const list = defineCommand({
  meta: { name: 'list', description: 'List label sets and the prompt caches of a model folder' },
  args: { model: { type: 'string', description: 'Model folder (default: the bundled models/tiny-clip)' } },
  run: ({ args }) =>
    guard(async () => {
      const modelDir = path.resolve(args.model ?? DEFAULT_MODEL_DIR);
      const clip = await createNodeClipEdge({ model: modelDir, text: false });
      const store = fsPromptCacheStore(path.join(modelDir, 'prompts'));
      const cached = new Set(await store.keys());
      for (const name of await clip.labelSetNames()) process.stdout.write(`${name}${cached.has(name) ? '\t(cached)' : ''}\n`);
    }),
});

export const prompts = defineCommand({
  meta: { name: 'prompts', description: 'Label sets and the precomputed prompt cache' },
  subCommands: { build, list },
});
