// npm run bench:search-recall [-- --model models/tiny-clip --backend node] — text→image retrieval
// quality of `clip-edge index` + search on the labelled photos available here: the bundled eval set
// (test/fixtures/tiny-clip-eval, 64 classes), and ../shared's CIFAR-10 (10 classes) and ImageNet
// (100 classes) samples when present. Each set is indexed with the documented command
// (`clip-edge index <folder> --db <dir>`, into a fresh LanceDB folder), then queried once per class
// with the class's prompt ensemble (CLIP's templates, as the classifier uses them).
// recall@10 = (images of the class in the top 10) / (images of the class), averaged over classes;
// chance = what a random ranking gives. Writes bench/results/search-recall-<model>.{md,json}.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { makeLabelSet } from '../src/core/label-sets.ts';
import { memoryPromptCacheStore } from '../src/core/prompt-cache/store.ts';
import { createNodeClipEdge } from '../src/runtime/fs/create.ts';
import { openNodeIndex } from '../src/runtime/fs/search-index.ts';
import { ROOT } from './lib/case.ts';

const { values: args } = parseArgs({ options: { model: { type: 'string', default: 'models/tiny-clip' }, backend: { type: 'string', default: 'auto' }, 'top-k': { type: 'string', default: '10' } } });
const K = Number(args['top-k']);
const SHARED = path.resolve(ROOT, '../shared/data');

interface LabelledSet {
  name: string;
  /** Folder that `clip-edge index` walks. */
  folder: string;
  /** Relative path (as the CLI stores it) → class label. */
  labelOf: Map<string, string>;
  classes: string[];
  templates: string[];
}

function sets(): LabelledSet[] {
  const out: LabelledSet[] = [];
  const evalDir = path.join(ROOT, 'test/fixtures/tiny-clip-eval');
  const ev = JSON.parse(readFileSync(path.join(evalDir, 'labels.json'), 'utf8')) as { labels: string[]; templates: string[]; images: { file: string; label: string }[] };
  out.push({
    name: 'tiny-clip eval (shapes)',
    folder: path.join(evalDir, 'images'),
    labelOf: new Map(ev.images.map((i) => [i.file.replace(/^images\//, ''), i.label])),
    classes: ev.labels,
    templates: ev.templates,
  });
  const manifest = path.join(SHARED, 'images/manifest.json');
  if (existsSync(manifest)) {
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as { images: { file: string; label: string; set: string }[] };
    for (const [set, dir, prompts] of [['cifar10', 'cifar10-test-sample', 'cifar10'], ['imagenet', 'imagenet-sample-every10th', 'imagenet']] as const) {
      const items = m.images.filter((i) => i.set === set);
      const p = JSON.parse(readFileSync(path.join(ROOT, 'third_party/zero-shot-prompts', `${prompts}.json`), 'utf8')) as { templates: string[] };
      out.push({
        name: `${set} sample (../shared)`,
        folder: path.join(SHARED, 'images', dir),
        labelOf: new Map(items.map((i) => [i.file.slice(dir.length + 1), i.label])),
        classes: [...new Set(items.map((i) => i.label))],
        templates: p.templates,
      });
    }
  } else console.error(`(../shared/data/images not found: CIFAR-10 and ImageNet samples skipped)`);
  return out;
}

async function main(): Promise<void> {
  const model = path.resolve(ROOT, args.model!);
  // Prompt ensembles in memory only (ImageNet: 100 classes × 80 templates = 8000 prompts).
  const clip = await createNodeClipEdge({ model, backend: args.backend, text: true, promptCache: memoryPromptCacheStore(), limits: { maxPrompts: 10_000 } });
  const rows: Record<string, unknown>[] = [];
  for (const set of sets()) {
    const db = mkdtempSync(path.join(tmpdir(), 'clip-edge-recall-'));
    try {
      // The documented command, as a user runs it.
      const cmd = ['bin/clip-edge.js', 'index', set.folder, '--db', db, '--model', model, '--backend', args.backend!, '--json'];
      const summary = JSON.parse(execFileSync(process.execPath, cmd, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!) as {
        indexed: number; failed: number; duplicates: number; imagesPerSecond: number;
      };
      const index = await openNodeIndex(clip, { db });
      const labelSet = makeLabelSet(set.name.replace(/[^A-Za-z0-9]+/g, '-'), set.classes, set.templates, { maxTemplates: 100 });
      const { matrix } = await clip.classEmbeddings(labelSet);
      const dim = clip.info.embedDim;
      const total = await index.count();
      let recall = 0, precision = 0, hit = 0, chance = 0, queried = 0;
      for (let c = 0; c < set.classes.length; c++) {
        const label = set.classes[c]!;
        const relevant = [...set.labelOf.values()].filter((l) => l === label).length;
        if (!relevant) continue;
        const matches = await index.query(matrix.subarray(c * dim, (c + 1) * dim), { topK: K });
        const right = matches.filter((m) => set.labelOf.get(String(m.metadata?.path)) === label).length;
        recall += right / relevant;
        precision += right / K;
        hit += right > 0 ? 1 : 0;
        chance += Math.min(K, total) / total; // expected recall@K of a random ranking
        queried++;
      }
      await index.close();
      const row = {
        set: set.name, images: total, classes: queried, failed: summary.failed,
        [`recall@${K}`]: recall / queried, [`precision@${K}`]: precision / queried, [`hit@${K}`]: hit / queried, [`chance recall@${K}`]: chance / queried,
        indexImagesPerSecond: summary.imagesPerSecond,
      };
      console.error(JSON.stringify(row));
      rows.push(row);
    } finally {
      rmSync(db, { recursive: true, force: true });
    }
  }
  const pct = (x: unknown) => `${((x as number) * 100).toFixed(1)} %`;
  const md = [
    `# Text→image search recall (${clip.info.id}, backend ${clip.backend.name})`,
    '',
    `Command: \`npm run bench:search-recall -- --model ${args.model} --backend ${args.backend}\` (${new Date().toISOString().slice(0, 10)}).`,
    `Each set indexed with \`clip-edge index <folder> --db <fresh dir>\` (LanceDB, exact search), one query per class (prompt ensemble over the set's templates).`,
    '',
    `| set | images | classes | recall@${K} | precision@${K} | hit@${K} | chance recall@${K} | index images/s |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.set} | ${r.images} | ${r.classes} | ${pct(r[`recall@${K}`])} | ${pct(r[`precision@${K}`])} | ${pct(r[`hit@${K}`])} | ${pct(r[`chance recall@${K}`])} | ${(r.indexImagesPerSecond as number).toFixed(1)} |`),
    '',
  ].join('\n');
  const out = path.join(ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  const base = path.join(out, `search-recall-${clip.info.id}`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ model: clip.info.id, backend: clip.backend.name, k: K, rows }, null, 1)}\n`);
  writeFileSync(`${base}.md`, md);
  process.stdout.write(md);
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
