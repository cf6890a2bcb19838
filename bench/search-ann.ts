// npm run bench:search-ann [-- --sizes 100000 --dim 512 --queries 100 --builds pq,pq-sqrt,pq-sqrt-sub64,flat-sqrt,hnsw-sq
//                            --nprobes 20,50,100 --refine 0,5,10,20 --data clip-like,uniform --tag x]
// Tunes the LanceDB driver's approximate index. For each data set (bench/lib/clip-like.ts: clustered,
// CLIP-like embeddings with image and text-like queries; or uniform random vectors) and size:
// 1. ground truth and the exact baselines: the memory (flat) driver and LanceDB without an index;
// 2. per index build (a copy of the same table): build seconds (persist()), index size on disk;
// 3. per query setting (nprobes × refineFactor, through the driver's `ann` options): p50/p95 ms and
//    recall@10 against the flat index's top 10, per query kind.
// Every timed query set runs twice (after 5 warm-up queries) and the faster pass is reported: the
// machine is shared. Writes bench/results/search-ann-<host>[-<tag>].{md,json}.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { LanceDbAnnOptions } from '../src/search/drivers/lancedb-ann.ts';
import { createLanceDbIndex } from '../src/search/drivers/lancedb.ts';
import { createMemoryIndex } from '../src/search/drivers/memory.ts';
import type { VectorIndex } from '../src/search/types.ts';
import { ROOT } from './lib/case.ts';
import { CLIP_LIKE, clipLike, describe, uniform } from './lib/clip-like.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '512' },
    queries: { type: 'string', default: '100' },
    builds: { type: 'string', default: 'pq,pq-sqrt,pq-sqrt-sub64,flat-sqrt,hnsw-sq' },
    nprobes: { type: 'string', default: '20,50,100' },
    refine: { type: 'string', default: '0,5,10,20' },
    data: { type: 'string', default: 'clip-like,uniform' },
    tag: { type: 'string', default: '' },
  },
});
const list = (s: string) => s.split(',').filter(Boolean);
const DIM = Number(args.dim);
const QUERIES = Number(args.queries);
/** Index builds by name; `sqrt`: √N partitions (LanceDB's own default is ~N / 8,192 — few partitions). */
function builds(n: number): Record<string, LanceDbAnnOptions> {
  const sqrt = Math.round(Math.sqrt(n));
  return {
    pq: { type: 'ivf-pq' },
    'pq-sub64': { type: 'ivf-pq', subVectors: DIM / 8 },
    'pq-sqrt': { type: 'ivf-pq', partitions: sqrt },
    'pq-sqrt-sub64': { type: 'ivf-pq', partitions: sqrt, subVectors: DIM / 8 },
    flat: { type: 'ivf-flat' },
    'flat-sqrt': { type: 'ivf-flat', partitions: sqrt },
    'hnsw-sq': { type: 'ivf-hnsw-sq' },
  };
}

interface Data { name: string; points: Float32Array[]; queries: Record<string, Float32Array[]> }
interface Timed { p50: number; p95: number; recall: number }
interface Row { data: string; size: number; index: string; build: string; buildSeconds?: number; indexMiB?: number; nprobes?: number; refineFactor?: number; kinds: Record<string, Timed> }

function dataset(name: string, n: number): Data {
  if (name === 'uniform') return { name, points: uniform(n, DIM, 1), queries: { random: uniform(QUERIES, DIM, 999_999) } };
  const s = clipLike(n, DIM, QUERIES, 42);
  console.error(`clip-like ${n}: measured cosines ${JSON.stringify(describe(s))}`);
  return { name, points: s.points, queries: { image: s.imageQueries, text: s.textQueries, 'text-iso': s.isoTextQueries } };
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const recallOf = (got: string[][], exact: string[][]) => got.reduce((a, ids, i) => a + ids.filter((id) => exact[i]!.includes(id)).length / exact[i]!.length, 0) / got.length;

/** Two timed passes after a warm-up; the faster pass's p50/p95 (the ids are the same in both). */
async function timeQueries(index: VectorIndex, queries: Float32Array[]): Promise<{ p50: number; p95: number; ids: string[][] }> {
  for (const q of queries.slice(0, 5)) await index.query(q, { topK: 10 });
  let best: { p50: number; p95: number; ids: string[][] } | undefined;
  for (let pass = 0; pass < 2; pass++) {
    const ms: number[] = [];
    const ids: string[][] = [];
    for (const q of queries) {
      const t = performance.now();
      ids.push((await index.query(q, { topK: 10 })).map((h) => h.id));
      ms.push(performance.now() - t);
    }
    const r = { p50: quantile(ms, 0.5), p95: quantile(ms, 0.95), ids };
    if (!best || r.p50 < best.p50) best = r;
  }
  return best!;
}

async function measure(index: VectorIndex, d: Data, truth: Record<string, string[][]>): Promise<Record<string, Timed>> {
  const kinds: Record<string, Timed> = {};
  for (const [kind, qs] of Object.entries(d.queries)) {
    const { ids, ...t } = await timeQueries(index, qs);
    kinds[kind] = { ...t, recall: recallOf(ids, truth[kind]!) };
  }
  return kinds;
}

async function fill(index: VectorIndex, points: Float32Array[]): Promise<void> {
  for (let i = 0; i < points.length; i += 1000) {
    await index.upsert(points.slice(i, i + 1000).map((vector, j) => ({ id: `v${i + j}`, vector, metadata: {} })), { model: 'synthetic' });
  }
  await index.persist();
}

const duMiB = (dir: string): number =>
  readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).reduce((a, e) => a + statSync(path.join(e.parentPath, e.name)).size, 0) / 2 ** 20;

const lance = (uri: string, ann: LanceDbAnnOptions | false) => createLanceDbIndex({ model: 'synthetic', dim: DIM, uri, ann });

/** The baselines and ground truth, then every build × query setting on copies of one table. */
async function sweep(d: Data, work: string, rows: Row[]): Promise<void> {
  const size = d.points.length;
  const push = (r: Omit<Row, 'data' | 'size'>) => {
    const row = { data: d.name, size, ...r };
    console.error(JSON.stringify(row));
    rows.push(row);
  };
  const flat = await createMemoryIndex({ model: 'synthetic', dim: DIM });
  await fill(flat, d.points);
  const truth: Record<string, string[][]> = {};
  for (const [kind, qs] of Object.entries(d.queries)) truth[kind] = await Promise.all(qs.map(async (q) => (await flat.query(q, { topK: 10 })).map((h) => h.id)));
  push({ index: 'memory (flat, exact)', build: '-', kinds: await measure(flat, d, truth) });
  await flat.close();

  const base = path.join(work, 'base');
  const exact = await lance(base, false);
  await fill(exact, d.points);
  push({ index: 'lancedb (exact)', build: '-', kinds: await measure(exact, d, truth) });
  await exact.close();

  for (const name of list(args.builds!)) {
    const build = builds(size)[name];
    if (!build) throw new Error(`unknown build ${name}: ${Object.keys(builds(size)).join(', ')}`);
    const uri = path.join(work, name);
    cpSync(base, uri, { recursive: true });
    const builder = await lance(uri, { ...build, minRows: 256 });
    const t = performance.now();
    await builder.persist();
    const buildSeconds = (performance.now() - t) / 1000;
    await builder.close();
    const indexMiB = duMiB(path.join(uri, 'images.lance', '_indices'));
    const refines = build.type === 'ivf-flat' ? [0] : list(args.refine!).map(Number);
    for (const nprobes of list(args.nprobes!).map(Number)) {
      for (const refineFactor of refines) {
        const index = await lance(uri, { ...build, minRows: 256, nprobes, refineFactor });
        push({ index: `lancedb ${build.type}${build.partitions ? ` ${build.partitions} partitions` : ''}${build.subVectors ? ` ${build.subVectors} sub-vectors` : ''}`, build: name, buildSeconds, indexMiB, nprobes, refineFactor, kinds: await measure(index, d, truth) });
        await index.close();
      }
    }
    rmSync(uri, { recursive: true, force: true });
  }
}

function report(rows: Row[], started: string): string {
  const f = (x: number | undefined, digits = 1) => (x === undefined ? '-' : x.toFixed(digits));
  const kinds = (r: Row) => Object.entries(r.kinds).map(([k, t]) => `${k}: ${f(t.p50, 2)} / ${f(t.p95, 2)} ms, recall ${f(t.recall, 3)}`).join('<br>');
  return [
    `# Approximate search in the LanceDB driver (${hostname()}, ${cpus().length} CPUs, ${started.slice(0, 10)})`,
    '',
    `Command: \`npm run bench:search-ann${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`. ${DIM}-d unit vectors, topK 10,`,
    `${QUERIES} queries of each kind; each query set runs twice after 5 warm-up queries and the faster pass's p50 / p95 is shown.`,
    'recall@10: the share of the exact top 10 (the memory driver\'s flat scan) returned.',
    `Data: \`clip-like\` = bench/lib/clip-like.ts (${JSON.stringify(CLIP_LIKE)}): clusters of ~100 in a narrow cone;`,
    '`image` queries are held-out images of the same clusters, `text` queries sit across the modality gap (shared gap + noise),',
    '`text-iso` queries have the same mean scores with an all-random offset (worst case); `uniform` = random unit vectors.',
    `Started ${started}, load average at the end ${loadavg().map((x) => x.toFixed(1)).join(' ')}.`,
    '',
    '| data | vectors | index | build | build s | index MiB | nprobes | refine | per query kind: p50 / p95 ms, recall@10 |',
    '|---|---:|---|---|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.data} | ${r.size.toLocaleString('en')} | ${r.index} | ${r.build} | ${f(r.buildSeconds)} | ${f(r.indexMiB)} | ${r.nprobes ?? '-'} | ${r.refineFactor ?? '-'} | ${kinds(r)} |`),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const rows: Row[] = [];
  for (const size of list(args.sizes!).map(Number)) {
    for (const name of list(args.data!)) {
      const work = mkdtempSync(path.join(tmpdir(), 'clip-edge-bench-ann-'));
      try {
        await sweep(dataset(name, size), work, rows);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }
  }
  const md = report(rows, started);
  const out = path.join(ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  const base = path.join(out, `search-ann-${hostname().replace(/[^A-Za-z0-9-]/g, '') || 'host'}${args.tag ? `-${args.tag}` : ''}`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ dim: DIM, queries: QUERIES, started, shape: CLIP_LIKE, rows }, null, 1)}\n`);
  writeFileSync(`${base}.md`, md);
  process.stdout.write(md);
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
