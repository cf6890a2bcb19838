// `clip-edge index <folder> --db <dir>` and `clip-edge search "<text>" --db <dir>`.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { defineCommand } from 'citty';
import { BATCH, TOP_K } from '../core/limits.ts';
import { setMaxListeners } from 'node:events';
import { SingleBar } from 'cli-progress';
import type { ClipEdge } from '../core/clip.ts';
import { indexAll, type BulkSource, type BulkSummary } from '../search/bulk.ts';
import { createLanceDbIndex, type LanceDbIndex, readLanceDbIndexInfo } from '../search/drivers/lancedb.ts';
import type { OptimizeReport } from '../search/drivers/lancedb-maintenance.ts';
import { createSearchService } from '../search/service.ts';
import { createNodeClipEdge } from '../runtime/fs/create.ts';
import { openNodeIndex } from '../runtime/fs/search-index.ts';
import { annArg, parseAnnArg } from './ann-arg.ts';
import { fail, guard, modelArgs, parseIntArg } from './common.ts';
import { indexArgs, parseIndexArgs } from './index-args.ts';

const IMAGE_FILE = /\.(jpe?g|png|webp)$/i;

/** Image files under `dir`, recursively, as paths relative to it (sorted: runs are reproducible). */
export async function listImages(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && IMAGE_FILE.test(e.name))
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** What clip-edge index stores with each image: filterable when declared with --field (path:string, folder:string, bytes:number). */
const metadataOf = (key: string, bytes: Uint8Array) => ({ path: key, folder: path.posix.dirname(key) === '.' ? '' : path.posix.dirname(key), bytes: bytes.byteLength });

const dbArg = { db: { type: 'string', description: 'Index folder (LanceDB), or s3://bucket/prefix', required: true, valueHint: 'dir' } } as const;

type OpenArgs = { model?: string; variant?: string; backend?: string; threads?: string; db: string; ann?: string; 'keep-versions'?: string };
const log = (line: string) => process.stderr.write(`\n${line}\n`);

async function open(args: OpenArgs, text: boolean, maxBatch?: number, rawArgs: readonly string[] = []): Promise<{ clip: ClipEdge; index: LanceDbIndex }> {
  const ann = parseAnnArg(args.ann); // bad values fail before the model loads
  const storage = parseIndexArgs(rawArgs, args);
  const clip = await createNodeClipEdge({
    model: args.model,
    ...(args.variant && args.variant !== 'auto' ? { visionVariant: args.variant as never } : {}),
    backend: args.backend,
    threads: parseIntArg('threads', args.threads),
    text,
    ...(maxBatch ? { maxBatch } : {}),
  });
  return { clip, index: await openNodeIndex(clip, { db: args.db, log, ...storage, ...(ann === undefined ? {} : { ann }) }) };
}

/** `index --optimize` without a folder: the index as stored, without loading its model. */
async function openStored(args: OpenArgs, rawArgs: readonly string[]): Promise<LanceDbIndex> {
  const ann = parseAnnArg(args.ann);
  const storage = parseIndexArgs(rawArgs, args);
  const info = await readLanceDbIndexInfo({ uri: args.db });
  if (!info) fail(`there is no index at ${args.db} (clip-edge index <folder> --db ${args.db} makes one)`);
  return createLanceDbIndex({ uri: args.db, model: info.model, dim: info.dim, log, ...storage, ...(ann === undefined ? {} : { ann }) });
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
function printOptimized(db: string, r: OptimizeReport, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify({ optimized: r })}\n`);
  else process.stderr.write(`optimized ${db}: ${r.filesRemoved} data files merged into ${r.filesAdded}, ${r.versionsRemoved} old versions deleted (${mb(r.bytesRemoved)}) in ${(r.ms / 1000).toFixed(1)} s\n`);
}

function progressBar(total: number) {
  if (!process.stderr.isTTY || total < 3) return { update() {}, stop() {} };
  const bar = new SingleBar({
    format: 'indexing [{bar}] {value}/{total} | {rate} img/s | ETA {eta_formatted} | skipped {skipped} | failed {failed}',
    stream: process.stderr,
    hideCursor: true,
    etaBuffer: 200,
  });
  const t0 = performance.now();
  bar.start(total, 0, { rate: '0.0', skipped: 0, failed: 0 });
  return {
    update(p: { done: number; indexed: number; skipped: number; failed: number }) {
      bar.update(p.done, { rate: (p.indexed / ((performance.now() - t0) / 1000)).toFixed(1), skipped: p.skipped, failed: p.failed });
    },
    stop: () => bar.stop(),
  };
}

function printSummary(s: BulkSummary, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return;
  }
  process.stderr.write(
    `indexed ${s.indexed}, already indexed ${s.skipped}, duplicate files ${s.duplicates}, failed ${s.failed} of ${s.total} images in ${s.seconds.toFixed(1)} s` +
      `${s.indexed ? ` (${s.imagesPerSecond.toFixed(1)} images/s)` : ''}\n`,
  );
  for (const f of s.failures.slice(0, 50)) process.stderr.write(`  failed: ${f.key}: ${f.code}: ${f.message}\n`);
  if (s.failures.length > 50) process.stderr.write(`  … and ${s.failures.length - 50} more (--json lists all)\n`);
}

export const indexCommand = defineCommand({
  meta: { name: 'index', description: 'Embed every image under a folder into a search index (resumable: already-indexed images are skipped)' },
  args: {
    folder: { type: 'positional', description: 'Folder of images (searched recursively: .jpg .jpeg .png .webp)', required: false },
    ...dbArg,
    ...annArg,
    ...indexArgs,
    optimize: { type: 'boolean', description: 'Compact the index and delete its old versions now (after indexing the folder, if one is given); the kit also does this by itself as it writes' },
    ...modelArgs,
    batch: { type: 'string', description: 'Images per inference batch', default: String(BATCH.maxBatch) },
    chunk: { type: 'string', description: 'Images read and embedded together', default: '64' },
    json: { type: 'boolean', description: 'Print the summary as JSON on stdout' },
  },
  run: ({ args, rawArgs }) =>
    guard(async () => {
      if (!args.folder) {
        if (!args.optimize) fail('give a folder of images to index (or --optimize to compact the index only)');
        const index = await openStored(args, rawArgs);
        try {
          printOptimized(args.db, await index.optimize(), !!args.json);
        } finally {
          await index.close();
        }
        return;
      }
      const folder = args.folder;
      const files = await listImages(folder);
      if (!files.length) fail(`no .jpg, .jpeg, .png or .webp files under ${folder}`);
      const { clip, index } = await open(args, false, parseIntArg('batch', args.batch), rawArgs);
      await clip.warmup({ text: false });
      const sources: BulkSource[] = files.map((f) => ({ key: f, read: async () => new Uint8Array(await readFile(path.join(folder, f))) }));
      const bar = progressBar(files.length);
      const ac = new AbortController();
      setMaxListeners(0, ac.signal); // every image in flight listens to it
      const stop = () => {
        process.stderr.write('\nstopping after the images in flight (rerun to resume)…\n');
        ac.abort();
      };
      process.once('SIGINT', stop);
      try {
        const summary = await indexAll(clip, index, sources, { chunk: parseIntArg('chunk', args.chunk)!, metadata: metadataOf, onProgress: (p) => bar.update(p), signal: ac.signal });
        bar.stop();
        printSummary(summary, !!args.json);
        if (args.optimize) printOptimized(args.db, await index.optimize(), !!args.json);
      } finally {
        process.off('SIGINT', stop);
        bar.stop();
        await index.close();
      }
    }),
});

export const searchCommand = defineCommand({
  meta: { name: 'search', description: 'Search an index by text (or --image for images like one)' },
  args: {
    text: { type: 'positional', description: 'What to look for, e.g. "a red bicycle"', required: false },
    ...dbArg,
    ...annArg,
    ...modelArgs,
    image: { type: 'string', description: 'Search with an image file instead of text', valueHint: 'file' },
    'top-k': { type: 'string', description: 'Matches to print', default: String(TOP_K.search) },
    json: { type: 'boolean', description: 'One JSON object per match (JSON Lines)' },
  },
  run: ({ args }) =>
    guard(async () => {
      if (!args.text && !args.image) fail('give a text to search for, or --image <file>');
      if (args.text && args.image) fail('give a text or --image, not both');
      const { clip, index } = await open(args, !args.image);
      try {
        const service = createSearchService(clip, index);
        const topK = parseIntArg('top-k', args['top-k']);
        const r = args.image ? await service.searchImage(new Uint8Array(await readFile(args.image)), { topK }) : await service.searchText(args.text!, { topK });
        for (const m of r.matches) {
          const where = typeof m.metadata?.path === 'string' ? m.metadata.path : m.id;
          process.stdout.write(args.json ? `${JSON.stringify({ path: m.metadata?.path, id: m.id, score: m.score })}\n` : `${m.score.toFixed(4)}  ${where}\n`);
        }
        if (!r.matches.length) process.stderr.write(`the index at ${args.db} is empty: run clip-edge index <folder> --db ${args.db}\n`);
      } finally {
        await index.close();
      }
    }),
});
