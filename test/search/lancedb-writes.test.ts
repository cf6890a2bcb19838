// The LanceDB driver's write path (src/search/drivers/lancedb-writes.ts, lancedb-lock.ts) on a real
// folder: concurrent writers of one id, grouped commits, one writing process per folder, and the
// issue-24 probes over real HTTP on 127.0.0.1 (32 parallel POST /v1/index of one id, and of the
// same bytes without an id).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { afterAll, describe, expect, it } from 'vitest';
import { createClipApp } from '../../src/http/app.ts';
import { createLanceDbIndex } from '../../src/search/drivers/lancedb.ts';
import { EVAL_DIR, type EvalSet, REPO_ROOT, sharedClip } from '../helpers/clip.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'clip-edge-lancedb-writes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DIM = 16;
const MODEL = 'writer-model';
const vector = (seed: number) => Array.from({ length: DIM }, (_, i) => Math.sin(seed * 7.1 + i * 1.3) + (i === seed % DIM ? 2 : 0));
let n = 0;
const fresh = (o: Partial<Parameters<typeof createLanceDbIndex>[0]> = {}) => {
  const uri = path.join(dir, `t${++n}`);
  return { uri, open: () => createLanceDbIndex({ uri, model: MODEL, dim: DIM, fields: { n: 'number' }, ...o }) };
};
const versions = (uri: string) => readdirSync(path.join(uri, 'images.lance', '_versions')).filter((f) => f.endsWith('.manifest')).length;
const writer = (uri: string, ...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'test/search/fixtures/lancedb-writer.ts', uri, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });

describe('LanceDB writes: atomic upserts, grouped commits', () => {
  it('32 concurrent upserts of one id: every call acknowledged, one row, the last write kept', async () => {
    const index = await fresh().open();
    const acks = await Promise.all(Array.from({ length: 32 }, (_, i) => index.upsert([{ id: 'dup', vector: vector(i), metadata: { n: i } }], { model: MODEL })));
    expect(acks).toEqual(Array.from({ length: 32 }, () => ({ upserted: 1 })));
    expect(await index.count()).toBe(1);
    const [m] = await index.query(vector(31), { topK: 5 });
    expect(m).toMatchObject({ id: 'dup', metadata: { n: 31 } });
    expect(m!.score).toBeCloseTo(1, 5);
    await index.close();
  });

  it('concurrent writes of different ids share commits (not one version each)', async () => {
    const { uri, open } = fresh();
    const index = await open();
    await index.upsert([{ id: 'first', vector: vector(0) }], { model: MODEL });
    const before = versions(uri);
    await Promise.all(Array.from({ length: 32 }, (_, i) => index.upsert([{ id: `id-${i}`, vector: vector(i + 1) }], { model: MODEL })));
    expect(await index.count()).toBe(33);
    expect(versions(uri) - before).toBeLessThanOrEqual(2);
    await index.close();
  });

  it('upserts and deletes of one burst apply in call order; each delete counts what it removed', async () => {
    const index = await fresh().open();
    await index.upsert([{ id: 'a', vector: vector(1) }, { id: 'b', vector: vector(2) }], { model: MODEL });
    const [d1, d2, , d3] = await Promise.all([
      index.delete(['a', 'b']),
      index.delete(['a', 'never']),
      index.upsert([{ id: 'a', vector: vector(3), metadata: { n: 3 } }], { model: MODEL }),
      index.delete(['b']),
    ]);
    expect([d1, d2, d3]).toEqual([{ deleted: 2 }, { deleted: 0 }, { deleted: 0 }]);
    expect(await index.count()).toBe(1);
    expect([...(await index.has(['a', 'b']))]).toEqual(['a']);
    await index.close();
  });
});

describe('LanceDB: one writing process per folder', () => {
  it('a second process is refused writes with a clear error naming the writer, and may read; after close it may write', async () => {
    const { uri, open } = fresh();
    const index = await open();
    await index.upsert([{ id: 'mine', vector: vector(1) }], { model: MODEL });
    const lock = JSON.parse(readFileSync(path.join(uri, 'images.clip-edge.lock'), 'utf8')) as { pid: number };
    expect(lock.pid).toBe(process.pid);

    const refused = writer(uri, 'try-write');
    expect(refused.stdout.trim(), refused.stderr).toMatch(new RegExp(`^error INDEX_UNAVAILABLE process ${process.pid} on .* writes to this index; one process writes to a folder at a time`));
    expect(writer(uri, 'count').stdout.trim()).toBe('count 1');

    await index.close();
    expect(existsSync(path.join(uri, 'images.clip-edge.lock'))).toBe(false);
    expect(writer(uri, 'try-write').stdout.trim()).toBe('ok');
    const again = await open();
    expect(await again.count()).toBe(2);
    await again.close();
  });

  it('a reading process sees another process\'s commits within refreshMs, without taking the lock', async () => {
    const { uri, open } = fresh({ refreshMs: 200 });
    const reader = await open();
    expect(await reader.count()).toBe(0);
    expect(writer(uri, 'try-write').stdout.trim()).toBe('ok'); // another process writes
    await new Promise((r) => setTimeout(r, 300));
    expect(await reader.count()).toBe(1);
    expect((await reader.query(vector(1), { topK: 1 }))[0]!.id).toMatch(/^other-\d+$/);
    expect(existsSync(path.join(uri, 'images.clip-edge.lock'))).toBe(false);
    await reader.close();
  });

  it('two indexes of one table in one process share the right to write: racing on one new id leaves one row', async () => {
    const { uri, open } = fresh();
    const [a, b] = [await open(), await open()];
    await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).upsert([{ id: 'same', vector: vector(i) }], { model: MODEL })));
    expect(await a.count()).toBe(1);
    await a.close();
    expect(existsSync(path.join(uri, 'images.clip-edge.lock')), 'kept while b is open').toBe(true);
    await b.upsert([{ id: 'other', vector: vector(9) }], { model: MODEL });
    expect(await b.count()).toBe(2);
    await b.close();
    expect(existsSync(path.join(uri, 'images.clip-edge.lock'))).toBe(false);
  });

  it('a stale lock (its process no longer runs) is taken over', async () => {
    const { uri, open } = fresh();
    const index = await open();
    await index.upsert([{ id: 'x', vector: vector(1) }], { model: MODEL });
    await index.close();
    // A lock left by a process that was killed: a pid that has exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(uri, 'images.clip-edge.lock'), JSON.stringify({ pid: Number(dead), host: (await import('node:os')).hostname(), since: new Date().toISOString(), command: 'killed' }));
    expect(writer(uri, 'try-write').stdout.trim()).toBe('ok');
  });
});

describe('LanceDB over HTTP: the issue-24 probes on 127.0.0.1', () => {
  it('32 parallel POST /v1/index?id=dup leave one row; 32 parallel copies of the same bytes without an id leave one record', { timeout: 120_000 }, async () => {
    const clip = await sharedClip();
    const { uri } = fresh();
    const index = await createLanceDbIndex({ uri, model: clip.info.id, dim: clip.info.embedDim });
    const app = createClipApp({ clip, index, maxBodyBytes: 2 * 1024 * 1024 });
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const first = (JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet).images.find((i) => i.file.endsWith('.jpg'))!;
      const image = new Uint8Array(readFileSync(path.join(EVAL_DIR, first.file)));
      const post = (query: string) => fetch(`${base}/v1/index${query}`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: image });
      const withId = await Promise.all(Array.from({ length: 32 }, () => post('?id=dup')));
      expect(withId.map((r) => r.status)).toEqual(Array(32).fill(200));
      expect(await index.count()).toBe(1);
      const bodies = (await Promise.all(withId.map((r) => r.json()))) as { ids: string[]; count: number }[];
      expect(bodies.every((b) => b.ids[0] === 'dup' && b.count === 1)).toBe(true);

      const noId = await Promise.all(Array.from({ length: 32 }, () => post('')));
      expect(noId.map((r) => r.status)).toEqual(Array(32).fill(200));
      const sha = createHash('sha256').update(image).digest('hex');
      expect(((await Promise.all(noId.map((r) => r.json()))) as { ids: string[] }[]).every((b) => b.ids[0] === sha)).toBe(true);
      expect(await index.count()).toBe(2);
      const s = await fetch(`${base}/v1/search`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: image });
      expect(((await s.json()) as { matches: { id: string }[] }).matches.map((m) => m.id).sort()).toEqual(['dup', sha].sort());
    } finally {
      await new Promise((r) => server.close(r));
      await index.close();
    }
  });
});

