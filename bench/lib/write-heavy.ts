// bench:search's write-heavy rows (issue 24): N images written to a LanceDB folder one per call, as a
// server sees them from a client that posts one image per request and waits for each answer (every
// call its own commit: the worst case for the folder), against the same rows written 64 per call.
// Per row: write time, disk bytes and files of the folder, search p50/p99 (topK 10, exact), without
// maintenance (the kit before issue 24), with the kit's automatic maintenance, and after an explicit
// optimize(). The vectors are the driver's work only (no embedding), so the numbers are the storage's.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLanceDbIndex, type LanceDbIndex } from '../../src/search/drivers/lancedb.ts';

export interface WriteRow {
  rows: number;
  how: string;
  writeSeconds: number;
  bytes: number;
  files: number;
  p50: number;
  p99: number;
  /** The baseline's p50 measured in the same rounds (queries alternate between the indexes). */
  baselineP50: number;
  baselineBytes: number;
}

function disk(folder: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const e of readdirSync(folder, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    files++;
    bytes += statSync(path.join(e.parentPath, e.name)).size;
  }
  return { bytes, files };
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

/** p50/p99 of each index, the queries alternating between them (the machine's load hits all alike). */
async function latencies(indexes: LanceDbIndex[], queries: Float32Array[]): Promise<{ p50: number; p99: number }[]> {
  for (const index of indexes) for (const q of queries.slice(0, 5)) await index.query(q, { topK: 10 });
  const ms: number[][] = indexes.map(() => []);
  for (const q of queries) {
    for (const [i, index] of indexes.entries()) {
      const t = performance.now();
      await index.query(q, { topK: 10 });
      ms[i]!.push(performance.now() - t);
    }
  }
  return ms.map((m) => ({ p50: quantile(m, 0.5), p99: quantile(m, 0.99) }));
}

export interface WriteHeavyOptions {
  sizes: number[];
  /** The largest size also written without maintenance (it grows quadratically: 10,000 rows ≈ 4 GB). */
  unmaintainedMax: number;
  vectors: (n: number, seed: number) => Float32Array[];
  queries: Float32Array[];
  log: (line: string) => void;
}

interface Built {
  how: string;
  index: LanceDbIndex;
  uri: string;
  writeSeconds: number;
}

export async function writeHeavy(o: WriteHeavyOptions): Promise<WriteRow[]> {
  const out: WriteRow[] = [];
  for (const n of o.sizes) {
    const data = o.vectors(n, 4242);
    const records = data.map((vector, i) => ({ id: `img-${i}`, vector, metadata: { path: `photos/${i}.jpg` } }));
    const build = async (how: string, perCall: number, maintenance?: false): Promise<Built> => {
      const uri = mkdtempSync(path.join(tmpdir(), 'clip-edge-bench-writes-'));
      const index = await createLanceDbIndex({ model: 'synthetic', dim: data[0]!.length, uri, ann: false, ...(maintenance === false ? { maintenance } : {}) });
      const t = performance.now();
      for (let i = 0; i < n; i += perCall) {
        await index.upsert(records.slice(i, i + perCall), { model: 'synthetic' });
        if (perCall === 1 && i % 1000 === 999) o.log(`  ${how}: ${i + 1}/${n} written, ${((performance.now() - t) / 1000).toFixed(0)} s`);
      }
      if (perCall > 1) await index.optimize();
      return { how, index, uri, writeSeconds: (performance.now() - t) / 1000 };
    };
    const built = [await build('64 per call, then optimize() (baseline)', 64), await build('one per call, automatic maintenance', 1)];
    if (n <= o.unmaintainedMax) built.push(await build('one per call, no maintenance', 1, false));
    const measure = async (suffix: string) => {
      const lat = await latencies(built.map((b) => b.index), o.queries);
      const baseline = { ...disk(built[0]!.uri), ...lat[0]! };
      built.forEach((b, i) => {
        if (i === 0 && suffix) return;
        const row: WriteRow = { rows: n, how: b.how + suffix, writeSeconds: b.writeSeconds, ...disk(b.uri), ...lat[i]!, baselineP50: baseline.p50, baselineBytes: baseline.bytes };
        o.log(JSON.stringify(row));
        out.push(row);
      });
    };
    try {
      await measure('');
      // The same folders after an explicit optimize(): what `clip-edge index --optimize` gives.
      for (const b of built.slice(1)) await b.index.optimize();
      await measure(', then optimize()');
    } finally {
      for (const b of built) {
        await b.index.close();
        rmSync(b.uri, { recursive: true, force: true });
      }
    }
  }
  return out;
}

/** The rows as a markdown table, with ratios to the baseline measured alongside. */
export function writeHeavyTable(rows: WriteRow[]): string[] {
  const mb = (b: number) => (b / 1e6).toFixed(2);
  return [
    '| rows | written | write s | disk MB | files | disk ÷ baseline | p50 ms | p99 ms | p50 ÷ baseline |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.rows.toLocaleString('en')} | ${r.how} | ${r.writeSeconds.toFixed(1)} | ${mb(r.bytes)} | ${r.files} | ${(r.bytes / r.baselineBytes).toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${(r.p50 / r.baselineP50).toFixed(2)} |`,
    ),
  ];
}
