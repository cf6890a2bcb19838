// The clip-edge command tree; bin/clip-edge.js runs it (tests read its help from here).
// What only some commands need (onnxruntime, the HTTP app, the hub client, the codecs) is imported
// by those commands when they run, so `--help`, `tokenize` and `classify` do not load the server.
import { readFile, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { defineCommand } from 'citty';
import { splitLabels } from '../core/label-sets.ts';
import { TOP_K } from '../core/limits.ts';
import { toNpy } from '../core/image/npy.ts';
import { clipPreprocess } from '../core/image/preprocess.ts';
import { readModelInfo } from '../core/model/info.ts';
import { isPrecision, PRECISIONS } from '../core/precision.ts';
import { createClipTokenizer } from '../core/tokenizer.ts';
import { fsModelSource } from '../runtime/fs/model-source.ts';
import { readLabelSetFile } from '../runtime/fs/label-sets.ts';
import { DEFAULT_MODEL_DIR } from '../runtime/fs/paths.ts';
import { annArg, parseAnnArg, searchOptions } from './ann-arg.ts';
import { fail, guard, modelArgs, parseIntArg, progress } from './common.ts';
import { indexArgs, parseIndexArgs } from './index-args.ts';

const variantOf = (v: string | undefined) => {
  if (v === undefined || v === 'auto') return 'auto' as const;
  if (!isPrecision(v)) fail(`unknown variant "${v}" (${PRECISIONS.join(', ')} or auto)`);
  return v;
};

const clipFrom = async (args: { model?: string; variant?: string; backend?: string; threads?: string }, text = true) =>
  (await import('../runtime/fs/create.ts')).createNodeClipEdge({
    model: args.model,
    visionVariant: variantOf(args.variant),
    backend: args.backend,
    threads: parseIntArg('threads', args.threads),
    text,
  });

const serve = defineCommand({
  meta: { name: 'serve', description: 'Start the HTTP API (settings also from CLIP_EDGE_* environment variables)' },
  args: {
    ...modelArgs,
    variant: { type: 'string', description: `Vision variant: auto | ${PRECISIONS.join(' | ')}` },
    backend: { type: 'string', description: 'auto | node | wasm' },
    threads: { type: 'string', description: 'onnxruntime threads (default 1)' },
    port: { type: 'string', description: 'Port (default 8787; 0 picks a free one)' },
    host: { type: 'string', description: 'Address to listen on (default 127.0.0.1)' },
    // citty reads `--no-<name>` as `<name>: false` (a boolean named 'no-text' is never set), so the
    // flag is `text`, on by default, and help shows its negation.
    text: { type: 'boolean', default: true, description: 'Load the text tower too', negativeDescription: 'Load the vision tower only (label sets only, no inline labels)' },
    db: { type: 'string', description: 'Enable search (/v1/index, /v1/search) over this index folder (see clip-edge index)', valueHint: 'dir' },
    ...annArg,
    ...indexArgs,
  },
  run: ({ args, rawArgs }) =>
    guard(async () => {
      if (args.ann !== undefined && !args.db) fail('--ann applies to the search index: give --db <dir> too');
      const storage = parseIndexArgs(rawArgs, args);
      if (Object.keys(storage).length && !args.db) fail('--field and --keep-versions apply to the search index: give --db <dir> too');
      const [{ configFromEnv }, { serveNode }] = await Promise.all([import('../http/config.ts'), import('../runtime/node/serve.ts')]);
      const env = configFromEnv(process.env);
      const running = await serveNode({
        ...env,
        ...(args.model ? { model: args.model } : {}),
        ...(args.variant ? { visionVariant: variantOf(args.variant) } : {}),
        ...(args.backend ? { backend: args.backend } : {}),
        ...(args.threads ? { threads: parseIntArg('threads', args.threads) } : {}),
        ...(args.port !== undefined ? { port: parseIntArg('port', args.port, 0) } : {}),
        ...(args.host ? { host: args.host } : {}),
        ...(args.text === false ? { text: false } : {}),
      }, args.db ? { search: { ...searchOptions(args.db, parseAnnArg(args.ann)), ...storage } } : {});
      process.stderr.write(`clip-edge listening on ${running.url} (docs: ${running.url}/docs)\n`);
      const stop = () =>
        void running.close().then(
          () => process.exit(0),
          (e: unknown) => {
            process.stderr.write(`clip-edge: shutdown failed: ${String(e)}\n`);
            process.exit(1);
          },
        );
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }),
});

const classify = defineCommand({
  meta: { name: 'classify', description: 'Zero-shot classify image files' },
  args: {
    // Listed so that --help shows them; all of them are read from args._ (one or more files).
    images: { type: 'positional', description: 'Image files (JPEG, PNG or WebP), one or more', required: false },
    ...modelArgs,
    labels: { type: 'string', description: 'Comma-separated class names', valueHint: 'a,b,c' },
    'label-set': { type: 'string', description: 'A built-in or model label set name, or a JSON file {classes, templates}' },
    templates: { type: 'string', description: 'Templates separated by "|", each with {} (default: the set\'s or the model\'s)' },
    'top-k': { type: 'string', description: 'Classes to show per image', default: String(TOP_K.classify) },
    json: { type: 'boolean', description: 'One JSON object per image (JSON Lines)' },
  },
  run: ({ args }) =>
    guard(async () => {
      const files = args._;
      if (!files.length) fail('give one or more image files');
      if (!args.labels && !args['label-set']) fail('give --labels a,b,c or --label-set <name|file.json>');
      const topK = parseIntArg('top-k', args['top-k']);
      const templates = args.templates?.split('|').map((t) => t.trim()).filter(Boolean);
      const clip = await clipFrom(args);
      let labels: string[] | undefined = args.labels === undefined ? undefined : splitLabels(args.labels);
      let labelSet: string | undefined = args['label-set'];
      let setTemplates = templates;
      if (labelSet && /\.json$/i.test(labelSet)) {
        const set = await readLabelSetFile(labelSet);
        labelSet = undefined;
        // A file's classes go inline (first synonym); its templates apply unless --templates overrides them.
        labels = set.labels.slice();
        setTemplates = templates ?? set.templates.slice();
      }
      const bar = progress(files.length, 'classifying');
      for (const file of files) {
        const bytes = new Uint8Array(await readFile(file));
        const r = await clip.classify(bytes, {
          ...(labels ? { labels } : {}),
          ...(labelSet ? { labelSet } : {}),
          ...(setTemplates ? { templates: setTemplates } : {}),
          topK,
        });
        bar.tick();
        if (args.json) {
          process.stdout.write(`${JSON.stringify({ file, ...r })}\n`);
        } else {
          const top = r.results.map((x) => `${x.label} ${(x.score * 100).toFixed(1)}%`).join(', ');
          process.stdout.write(`${file}: ${top}\n`);
        }
      }
      bar.stop();
    }),
});

const embedImage = defineCommand({
  meta: { name: 'image', description: 'L2-normalised image embeddings as JSON Lines' },
  args: { ...modelArgs },
  run: ({ args }) =>
    guard(async () => {
      if (!args._.length) fail('give one or more image files');
      const clip = await clipFrom(args, false);
      const bar = progress(args._.length, 'embedding');
      for (const file of args._) {
        const r = await clip.embedImage(new Uint8Array(await readFile(file)));
        bar.tick();
        process.stdout.write(`${JSON.stringify({ file, model: r.model, variant: r.variant, embedding: Array.from(r.embedding) })}\n`);
      }
      bar.stop();
    }),
});

const embedText = defineCommand({
  meta: { name: 'text', description: 'L2-normalised text embeddings as JSON Lines' },
  args: { ...modelArgs },
  run: ({ args }) =>
    guard(async () => {
      if (!args._.length) fail('give one or more texts');
      const clip = await clipFrom(args);
      const r = await clip.embedText(args._);
      r.embeddings.forEach((e, i) => process.stdout.write(`${JSON.stringify({ text: args._[i], model: r.model, variant: r.variant, embedding: Array.from(e) })}\n`));
    }),
});

const embed = defineCommand({
  meta: { name: 'embed', description: 'Embed images or texts' },
  subCommands: { image: embedImage, text: embedText },
});

const tokenize = defineCommand({
  meta: { name: 'tokenize', description: 'Print the CLIP token ids of a text as a JSON array' },
  args: {
    text: { type: 'positional', description: 'The text', required: true },
    model: modelArgs.model,
    pad: { type: 'boolean', description: 'Pad to the context length (77)' },
  },
  run: ({ args }) =>
    guard(async () => {
      const source = fsModelSource(args.model ?? DEFAULT_MODEL_DIR);
      const info = await readModelInfo(source);
      const [tok, cfg] = await Promise.all(['tokenizer.json', 'tokenizer_config.json'].map(async (f) => {
        const b = await source.read(f);
        return b ? JSON.parse(new TextDecoder().decode(b)) : undefined;
      }));
      if (!tok) fail(`${source.name} has no tokenizer.json`);
      const t = createClipTokenizer(tok, cfg ?? {}, { contextLength: info.contextLength });
      const ids = args.pad ? Array.from(t.encodeBatch([args.text]).inputIds, Number) : t.encode(args.text);
      process.stdout.write(`${JSON.stringify(ids)}\n`);
    }),
});

const preprocess = defineCommand({
  meta: { name: 'preprocess', description: 'Write the model-input tensor of an image (float32 [1,3,H,W]) as .npy' },
  args: {
    image: { type: 'positional', description: 'Image file', required: true },
    model: modelArgs.model,
    out: { type: 'string', description: 'Output .npy file', required: true },
  },
  run: ({ args }) =>
    guard(async () => {
      const info = await readModelInfo(fsModelSource(args.model ?? DEFAULT_MODEL_DIR));
      const [{ createImageDecoder }, { nodeImageCodecs }] = await Promise.all([import('../core/image/decoder.ts'), import('../runtime/fs/codecs.ts')]);
      const img = await createImageDecoder({ wasm: nodeImageCodecs() }).decode(new Uint8Array(await readFile(args.image)));
      const x = clipPreprocess(img, info.preprocess);
      const tmp = `${args.out}.${process.pid}.tmp`;
      await writeFile(tmp, toNpy(x, [1, 3, info.preprocess.cropHeight, info.preprocess.cropWidth]));
      await rename(tmp, args.out);
      process.stderr.write(`wrote ${path.resolve(args.out)} (${img.width}×${img.height} → 1×3×${info.preprocess.cropHeight}×${info.preprocess.cropWidth})\n`);
    }),
});

const pull = defineCommand({
  meta: { name: 'pull', description: 'Download a CLIP model folder from a Hugging Face-compatible hub' },
  args: {
    repo: { type: 'positional', description: 'Repository, e.g. Xenova/clip-vit-base-patch32', required: true },
    revision: { type: 'string', description: 'Branch, tag or commit', default: 'main' },
    'base-url': { type: 'string', description: 'Hub URL (default $HF_ENDPOINT or https://huggingface.co)' },
    'cache-dir': { type: 'string', description: 'Where models are stored (default $CLIP_EDGE_CACHE or ~/.cache/clip-edge/models)' },
    variants: { type: 'string', description: 'Comma-separated precisions to fetch (default: all)' },
    towers: { type: 'string', description: 'vision,text (default both)' },
  },
  run: ({ args }) =>
    guard(async () => {
      const [{ createPullProgress }, { pullModel }] = await Promise.all([import('../hub/progress.ts'), import('../hub/pull.ts')]);
      const p = createPullProgress();
      const variants = args.variants?.split(',').map((s) => s.trim()).filter(Boolean);
      if (variants?.some((v) => !isPrecision(v))) fail(`--variants takes ${PRECISIONS.join(', ')}`);
      const towers = args.towers?.split(',').map((s) => s.trim()).filter(Boolean);
      if (towers?.some((t) => t !== 'vision' && t !== 'text')) fail('--towers takes vision and/or text');
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort(new Error('interrupted: partial downloads are kept and resumed next time')));
      try {
        const r = await pullModel({
          repo: args.repo,
          revision: args.revision,
          ...(args['base-url'] ? { baseUrl: args['base-url'] } : {}),
          ...(args['cache-dir'] ? { cacheDir: args['cache-dir'] } : {}),
          ...(variants ? { variants: variants as never } : {}),
          ...(towers ? { towers: towers as never } : {}),
          onProgress: p.onProgress,
          signal: ac.signal,
        });
        for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
        process.stdout.write(`${r.dir}\n`);
      } finally {
        p.stop();
      }
    }),
});

export const main = defineCommand({
  meta: { name: 'clip-edge', version: '0.1.0', description: 'CLIP at the edge: zero-shot classification and embeddings' },
  subCommands: { serve, classify, embed, tokenize, preprocess, pull, prompts: () => import('./prompts.ts').then((m) => m.prompts), quantize: () => import('./quantize.ts').then((m) => m.quantize), index: () => import('./search.ts').then((m) => m.indexCommand), search: () => import('./search.ts').then((m) => m.searchCommand) },
});

