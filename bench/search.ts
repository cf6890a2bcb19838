// npm run bench:search [-- --sizes 1000,10000,100000 --dim 512 --queries 50 --skip-indexing --writes 1537,10000]
// 1. Bulk indexing on one machine: `clip-edge index` (the documented command) over the bundled eval
//    set (464 images) into a fresh LanceDB folder, per backend (onnxruntime-web WASM,
//    onnxruntime-node) and thread count (1, 2): images/s as the command reports it (embedding +
//    upsert time, file reading overlapped), and wall time of the whole command.
// 2. Query latency vs index size: synthetic unit vectors (dim 512, ViT-B/32's size), topK 10, for the
//    memory (flat) and LanceDB (exact; and the approximate index with the driver's defaults at the largest size)
//    drivers. bench/search-ann.ts tunes the approximate index on clustered, CLIP-like vectors.
// 3. Write-heavy (bench/lib/write-heavy.ts): N images written to LanceDB one per call, then queried:
//    disk, files, p50/p99 without maintenance, with the kit's automatic maintenance, after optimize(),
//    against the same rows written 64 per call. `--sizes ""` or `--writes ""` skips a part.
// Writes bench/results/search-<host>[-<tag>].{md,json}.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLanceDbIndex } from '../src/search/drivers/lancedb.ts';
import { createMemoryIndex } from '../src/search/drivers/memory.ts';
import type { VectorIndex } from '../src/search/types.ts';
import { ROOT } from './lib/case.ts';
import { writeHeavy, writeHeavyTable, type WriteRow } from './lib/write-heavy.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000' },
    dim: { type: 'string', default: '512' },
    queries: { type: 'string', default: '50' },
    'skip-indexing': { type: 'boolean', default: false },
    'skip-ann': { type: 'boolean', default: false },
    writes: { type: 'string', default: '1537,10000' },
    /** Sizes up to this one are also written without maintenance (quadratic growth: 10,000 rows ≈ 4 GB). */
    'writes-unmaintained': { type: 'string', default: '1537' },
    'write-queries': { type: 'string', default: '200' },
    /** Suffix of the result files (several partial runs side by side). */
    tag: { type: 'string', default: '' },
  },
});
const list = (v: string | undefined) => (v ?? '').split(',').filter(Boolean).map(Number);
const SIZES = list(args.sizes);
const WRITES = list(args.writes);
const DIM = Number(args.dim);
const QUERIES = Number(args.queries);
const EVAL_IMAGES = path.join(ROOT, 'test/fixtures/tiny-clip-eval/images');

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}
function unitVectors(n: number, seed: number): Float32Array[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const v = Float32Array.from({ length: DIM }, r);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

/** Query latency, and the top-10 ids of every query (for recall against the exact answer). */
async function latency(index: VectorIndex, queries: Float32Array[]): Promise<{ p50: number; p95: number; ids: string[][] }> {
  for (const q of queries.slice(0, 5)) await index.query(q, { topK: 10 });
  const ms: number[] = [];
  const ids: string[][] = [];
  for (const q of queries) {
    const t = performance.now();
    const hits = await index.query(q, { topK: 10 });
    ms.push(performance.now() - t);
    ids.push(hits.map((h) => h.id));
  }
  return { p50: quantile(ms, 0.5), p95: quantile(ms, 0.95), ids };
}

/** Mean fraction of the exact top-10 that a driver's top-10 holds. */
const recallOf = (got: string[][], exact: string[][]) => got.reduce((a, ids, i) => a + ids.filter((id) => exact[i]!.includes(id)).length / exact[i]!.length, 0) / got.length;

async function fill(index: VectorIndex, n: number): Promise<number> {
  const t = performance.now();
  for (let start = 0; start < n; start += 1000) {
    const vs = unitVectors(Math.min(1000, n - start), start + 1);
    await index.upsert(vs.map((vector, i) => ({ id: `v${start + i}`, vector, metadata: { n: start + i } })), { model: 'synthetic' });
  }
  await index.persist();
  return n / ((performance.now() - t) / 1000);
}

interface QueryRow { driver: string; size: number; insertPerSecond: number; p50: number; p95: number; recallAt10: number }
interface IndexRow { backend: string; threads: number; images: number; imagesPerSecond: number; wallSeconds: number }

async function main(): Promise<void> {
  const indexing: IndexRow[] = [];
  if (!args['skip-indexing']) {
    for (const backend of ['wasm', 'node']) {
      for (const threads of [1, 2]) {
        const db = mkdtempSync(path.join(tmpdir(), 'clip-edge-bench-index-'));
        try {
          const t = performance.now();
          const out = execFileSync(process.execPath, ['bin/clip-edge.js', 'index', EVAL_IMAGES, '--db', db, '--backend', backend, '--threads', String(threads), '--json'], { cwd: ROOT, encoding: 'utf8' });
          const s = JSON.parse(out.trim().split('\n').pop()!) as { indexed: number; imagesPerSecond: number };
          const row = { backend, threads, images: s.indexed, imagesPerSecond: s.imagesPerSecond, wallSeconds: (performance.now() - t) / 1000 };
          console.error(JSON.stringify(row));
          indexing.push(row);
        } finally {
          rmSync(db, { recursive: true, force: true });
        }
      }
    }
  }
  const queries = unitVectors(QUERIES, 999_999);
  const rows: QueryRow[] = [];
  for (const size of SIZES) {
    const drivers: [string, () => Promise<VectorIndex>, string?][] = [
      ['memory (flat, exact)', () => createMemoryIndex({ model: 'synthetic', dim: DIM })],
      ['lancedb (exact)', () => createLanceDbIndex({ model: 'synthetic', dim: DIM, uri: mkdtempSync(path.join(tmpdir(), 'clip-edge-bench-lance-')), ann: false })],
    ];
    if (size === Math.max(...SIZES) && !args['skip-ann']) {
      drivers.push(['lancedb (ANN, driver defaults)', () => createLanceDbIndex({ model: 'synthetic', dim: DIM, uri: mkdtempSync(path.join(tmpdir(), 'clip-edge-bench-lance-')), ann: { minRows: size } })]);
    }
    let exact: string[][] | undefined; // the flat index's answers, first in the list
    for (const [driver, open] of drivers) {
      const index = await open();
      try {
        const insertPerSecond = await fill(index, size);
        const { ids, ...l } = await latency(index, queries);
        exact ??= ids;
        const row = { driver, size, insertPerSecond, ...l, recallAt10: recallOf(ids, exact) };
        console.error(JSON.stringify(row));
        rows.push(row);
      } finally {
        await index.close();
      }
    }
  }
  const writes: WriteRow[] = WRITES.length
    ? await writeHeavy({ sizes: WRITES, unmaintainedMax: Number(args['writes-unmaintained']), vectors: unitVectors, queries: unitVectors(Number(args['write-queries']), 777_777), log: (l) => console.error(l) })
    : [];
  const f = (x: number, d = 1) => x.toFixed(d);
  const md = [
    `# Search benchmarks (${hostname()}, ${cpus().length} CPUs, ${new Date().toISOString().slice(0, 10)})`,
    '',
    `Command: \`npm run bench:search${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`. Bundled model (tiny-clip), ${DIM}-dimensional synthetic vectors for the query table.`,
    '',
    ...(indexing.length ? [
      '## Bulk indexing: `clip-edge index` over the eval set (464 images)',
      '',
      '| backend | threads | images | images/s (embed + upsert) | wall s (incl. model load) |',
      '|---|---:|---:|---:|---:|',
      ...indexing.map((r) => `| ${r.backend} | ${r.threads} | ${r.images} | ${f(r.imagesPerSecond)} | ${f(r.wallSeconds)} |`),
      '',
    ] : []),
    ...(rows.length ? [
      `## Query latency vs index size (topK 10, ${QUERIES} queries, ms)`,
      '',
      'recall@10: the share of the exact top 10 (the flat index) that the driver answers. The vectors are uniformly random',
      'unit vectors, the hardest case for an approximate index (no clusters); CLIP embeddings cluster.',
      '',
      '| driver | vectors | insert vectors/s | p50 ms | p95 ms | recall@10 |',
      '|---|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.driver} | ${r.size.toLocaleString('en')} | ${f(r.insertPerSecond, 0)} | ${f(r.p50, 2)} | ${f(r.p95, 2)} | ${f(r.recallAt10, 3)} |`),
      '',
    ] : []),
    ...(writes.length ? [
      `## Write-heavy: images written one per call, then queried (LanceDB, ${DIM}-d, topK 10 exact, ${args['write-queries']} queries)`,
      '',
      'Each call is one commit (a client posting one image per request and waiting for each answer); the baseline writes the',
      'same rows 64 per call and runs optimize(). Automatic maintenance: the driver defaults (every 100 commits or 10,000 rows,',
      `current version kept only). Without maintenance only up to ${args['writes-unmaintained']} rows: that folder grows quadratically.`,
      '',
      ...writeHeavyTable(writes),
      '',
    ] : []),
  ].join('\n');
  const out = path.join(ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  const base = path.join(out, `search-${hostname().replace(/[^A-Za-z0-9-]/g, '') || 'host'}${args.tag ? `-${args.tag}` : ''}`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ dim: DIM, queries: QUERIES, indexing, rows, writes }, null, 1)}\n`);
  writeFileSync(`${base}.md`, md);
  process.stdout.write(md);
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
