// The LanceDB driver's maintenance (src/search/drivers/lancedb-maintenance.ts) on a real folder:
// the issue-24 probes as tests (disk after single-row writes and after replacements, against the
// same rows written at once), the settings' checks, and kill -9 during writes and during compaction
// (every acknowledged record survives, the folder stays readable). Latency is bench/search.ts's job.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLanceDbIndex, type LanceDbIndexOptions } from '../../src/search/drivers/lancedb.ts';
import { REPO_ROOT } from '../helpers/clip.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'clip-edge-lancedb-maint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DIM = 512; // CLIP ViT-B/32's width: the vectors are most of the bytes, as in a real index
const MODEL = 'maint-model';
/** Deterministic unit-ish vectors (the driver normalises). */
const vector = (seed: number, dim = DIM) => Array.from({ length: dim }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 43758.5453 % 1);
const rows = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ id: `r${from + i}`, vector: vector(from + i), metadata: { n: from + i } }));
let n = 0;
const open = (o: Partial<LanceDbIndexOptions> = {}) => {
  const uri = path.join(dir, `t${++n}`);
  return { uri, index: createLanceDbIndex({ uri, model: MODEL, dim: DIM, fields: { n: 'number' }, lingerMs: 0, ...o }) };
};
/** Bytes and files under a folder. */
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

describe('LanceDB maintenance: disk follows the rows, not the writes', { timeout: 180_000 }, () => {
  it('613 rows written one per call: after maintenance, disk and files within 2x of the same rows written at once, same answers', async () => {
    const all = rows(613);
    const batched = open();
    const b = await batched.index;
    for (let i = 0; i < all.length; i += 64) await b.upsert(all.slice(i, i + 64), { model: MODEL });
    await b.optimize();
    const single = open();
    const s = await single.index;
    for (const r of all) await s.upsert([r], { model: MODEL });
    const automatic = disk(single.uri); // automatic runs only (every 100 commits by default)
    const report = await s.optimize();
    expect(report.versionsRemoved).toBeGreaterThan(0);
    const [one, many] = [disk(single.uri), disk(batched.uri)];
    console.log(`613 rows: batched ${many.bytes} B / ${many.files} files; one per call ${one.bytes} B / ${one.files} files after optimize(), ${automatic.bytes} B / ${automatic.files} files with automatic maintenance only`);
    expect(one.bytes).toBeLessThanOrEqual(2 * many.bytes);
    expect(one.files).toBeLessThanOrEqual(2 * many.files);
    // Automatic maintenance alone keeps the folder near its size (the probe without it: 102 MB, 4,623 files).
    expect(automatic.bytes).toBeLessThanOrEqual(4 * many.bytes);
    expect(await s.count()).toBe(613);
    for (const q of [3, 300, 612]) expect((await s.query(vector(q), { topK: 10 })).map((m) => m.id)).toEqual((await b.query(vector(q), { topK: 10 })).map((m) => m.id));
    await b.close();
    await s.close();
  });

  it('500 replacements of one id: disk back within 2x of the one-row table', async () => {
    const one = open();
    const o = await one.index;
    await o.upsert(rows(1), { model: MODEL });
    await o.optimize();
    const replaced = open();
    const r = await replaced.index;
    for (let i = 0; i < 500; i++) await r.upsert([{ id: 'r0', vector: vector(i), metadata: { n: i } }], { model: MODEL });
    await r.optimize();
    const [a, b] = [disk(replaced.uri), disk(one.uri)];
    console.log(`500 replacements: ${a.bytes} B / ${a.files} files; one row written once: ${b.bytes} B / ${b.files} files`);
    expect(a.bytes).toBeLessThanOrEqual(2 * b.bytes);
    expect(await r.count()).toBe(1);
    expect((await r.query(vector(499), { topK: 1 }))[0]).toMatchObject({ id: 'r0', metadata: { n: 499 } });
    await o.close();
    await r.close();
  });

  it('keepVersionsMs keeps recent versions; maintenance: false leaves them to optimize()', async () => {
    const kept = open({ maintenance: { everyCommits: 5, keepVersionsMs: 3_600_000 } });
    const k = await kept.index;
    for (let i = 0; i < 12; i++) await k.upsert(rows(1, i), { model: MODEL });
    expect((await k.optimize()).versionsRemoved).toBe(0);
    expect((await k.optimize({ keepVersionsMs: 0 })).versionsRemoved).toBeGreaterThan(10);
    await k.close();
    const off = open({ maintenance: false });
    const f = await off.index;
    for (let i = 0; i < 120; i++) await f.upsert(rows(1, i), { model: MODEL });
    expect((await f.optimize()).versionsRemoved).toBeGreaterThanOrEqual(120);
    await f.close();
  });

  it.each([
    [{ everyCommits: 0 }, /everyCommits must be an integer ≥ 1/],
    [{ everyRows: 1.5 }, /everyRows must be an integer ≥ 1/],
    [{ keepVersionsMs: -1 }, /keepVersionsMs must be an integer ≥ 0/],
    [{ every: 5 }, /maintenance.every is not a setting/],
    [true, /maintenance must be an object/],
  ])('refuses maintenance %j with BAD_INPUT before opening anything', async (m, words) => {
    await expect(createLanceDbIndex({ uri: path.join(dir, 'never'), model: MODEL, dim: DIM, maintenance: m as never })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(words) });
  });
});

/**
 * Runs the writer fixture from `from` and kills it with SIGKILL when `killWhen` says so. Lines the
 * child printed before it died are read to the end: an "ack" among them is an acknowledged write.
 */
function writeUntilKilled(uri: string, from: number, killWhen: (line: string, acks: number) => boolean): Promise<{ acked: string[]; lines: string[]; killedAfter: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/search/fixtures/lancedb-writer.ts', uri, 'write', String(from)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: string[] = [];
    const lines: string[] = [];
    let killedAfter = -1;
    let err = '';
    let buf = '';
    child.stderr.on('data', (d) => (err += String(d)));
    child.stdout.on('data', (d) => {
      buf += String(d);
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (line.startsWith('ack ')) acked.push(line.slice(4));
        if (killedAfter < 0 && killWhen(line, acked.length)) {
          killedAfter = lines.length - 1;
          child.kill('SIGKILL');
        }
      }
    });
    child.on('close', (code, signal) => (signal === 'SIGKILL' ? resolve({ acked, lines, killedAfter }) : reject(new Error(`the writer exited (${code}): ${err.slice(-2000)}`))));
  });
}

describe('LanceDB: kill -9 during writes and during compaction', { timeout: 300_000 }, () => {
  it('every acknowledged record survives six kills; the folder stays readable and writable', async () => {
    const uri = path.join(dir, 'killed');
    const acked: string[] = [];
    let next = 0;
    let duringCompaction = 0;
    let bulk = 0;
    for (let round = 0; round < 6; round++) {
      const stopAt = 5 + ((round * 7) % 17);
      // Even rounds: killed between writes; odd rounds: as soon as a compaction starts.
      const r = await writeUntilKilled(uri, next, (line, acks) => (round % 2 ? line === 'optimize' && acks >= 10 : acks >= stopAt));
      // The kill landed during the compaction when the child never said it had finished it.
      if (round % 2 && !r.lines.slice(r.killedAfter).includes('optimized')) duringCompaction++;
      acked.push(...r.acked);
      if (r.lines.includes('bulk')) bulk = 40_000;
      next = Number(acked.at(-1)!.slice(2)) + 1;
      const index = await createLanceDbIndex({ uri, model: 'writer-model', dim: 16, fields: { n: 'number' } });
      const present = await index.has(acked);
      expect(acked.filter((id) => !present.has(id)), `round ${round}: acknowledged but lost`).toEqual([]);
      expect(await index.count()).toBeGreaterThanOrEqual(bulk + acked.length);
      expect((await index.query(Array.from({ length: 16 }, (_, i) => i + 1), { topK: 3 })).length).toBe(3);
      await index.close();
    }
    console.log(`kill -9: ${acked.length} acknowledged single writes (+ ${bulk} bulk rows) survived 6 kills, ${duringCompaction} of 3 during a compaction`);
    expect(duringCompaction, 'kills that landed between "optimize" and "optimized"').toBeGreaterThanOrEqual(1);
    // The lock of the last killed writer is stale: a new writer takes it over; maintenance cleans up.
    const index = await createLanceDbIndex({ uri, model: 'writer-model', dim: 16, fields: { n: 'number' } });
    await index.upsert([{ id: 'after', vector: Array.from({ length: 16 }, (_, i) => i) }], { model: 'writer-model' });
    await index.optimize();
    expect((await index.has([...acked, 'after'])).size).toBe(acked.length + 1);
    await index.close();
  });
});
