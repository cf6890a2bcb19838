// `clip-edge index` and `clip-edge search` as a user runs them (real processes, LanceDB on disk).
// Expected matches come from the eval set's labels.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cosine, uniform } from '../../bench/lib/clip-like.ts';
import { wasmBackend } from '../../src/runtime/fs/ort.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { openNodeIndex } from '../../src/runtime/fs/search-index.ts';
import { EVAL_DIR, REPO_ROOT, type EvalSet } from '../helpers/clip.ts';

const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['bin/clip-edge.js', ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 240_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
const CLASSES = ['red circle', 'blue square', 'green triangle', 'yellow star'];
const tmp = mkdtempSync(path.join(tmpdir(), 'clip-edge-index-'));
const photos = path.join(tmp, 'photos');
const db = path.join(tmp, 'db');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Three images of each class in nested folders, one copy under another name, and a corrupt file.
const items = CLASSES.flatMap((label) => evalSet.images.filter((i) => i.label === label && i.split === 'seen').slice(0, 3));
mkdirSync(path.join(photos, 'nested/deeper'), { recursive: true });
items.forEach((it, i) => copyFileSync(path.join(EVAL_DIR, it.file), path.join(photos, i % 2 ? 'nested' : 'nested/deeper', path.basename(it.file))));
copyFileSync(path.join(EVAL_DIR, items[0]!.file), path.join(photos, `copy-of-${path.basename(items[0]!.file)}`));
writeFileSync(path.join(photos, 'broken.jpg'), new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3, 4]));
writeFileSync(path.join(photos, 'notes.txt'), 'not an image');
const labelOf = (p: string) => items.find((i) => path.basename(i.file) === path.basename(p).replace(/^copy-of-/, ''))?.label;

/** `clip-edge serve --db <dir>` on a free port; resolves once it listens. */
async function serveDb(dir: string): Promise<{ url: string; stop(): void }> {
  const proc = spawn(process.execPath, ['bin/clip-edge.js', 'serve', '--db', dir, '--port', '0', '--backend', 'wasm'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    proc.stderr!.on('data', (d) => {
      log += d;
      const m = /listening on (http:\/\/\S+)/.exec(log);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', () => reject(new Error(log)));
  });
  return { url, stop: () => proc.kill('SIGTERM') };
}

// Each case spawns the CLI (model load included): minutes on a loaded 2-core CI machine.
describe('clip-edge index / search', { timeout: 600_000 }, () => {
  it('indexes a folder recursively; a corrupt file is reported and skipped, a copy is indexed once', () => {
    const r = cli('index', photos, '--db', db, '--backend', 'wasm', '--json');
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out) as { total: number; indexed: number; skipped: number; duplicates: number; failed: number; failures: { key: string; code: string }[] };
    expect(s).toMatchObject({ total: items.length + 2, indexed: items.length, skipped: 0, duplicates: 1, failed: 1 });
    expect(s.failures).toEqual([expect.objectContaining({ key: 'broken.jpg', code: 'CORRUPT_IMAGE' })]);
  });

  it('a second run resumes: everything already indexed is skipped', () => {
    const r = cli('index', photos, '--db', db, '--backend', 'wasm');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(new RegExp(`indexed 0, already indexed ${items.length}, duplicate files 1, failed 1 of ${items.length + 2}`));
    expect(r.err).toMatch(/failed: broken\.jpg: CORRUPT_IMAGE/);
  });

  it('search prints scores and paths, the class asked for first', () => {
    // Two of the four classes: each search is a process that loads both towers (slow on a loaded CI machine).
    for (const label of [CLASSES[0]!, CLASSES[3]!]) {
      const r = cli('search', `a photo of a ${label}.`, '--db', db, '--top-k', '3');
      expect(r.code, r.err).toBe(0);
      const lines = r.out.trim().split('\n');
      expect(lines).toHaveLength(3);
      const [score, file] = lines[0]!.split(/\s+/);
      expect(Number(score)).toBeGreaterThan(0);
      expect(file).toMatch(/^nested\//);
      expect(labelOf(file!)).toBe(label);
    }
  });

  it('--image finds images like one; --json gives path, id and score', () => {
    const probe = path.join(EVAL_DIR, items[4]!.file);
    const r = cli('search', '--image', probe, '--db', db, '--top-k', '1', '--json', '--backend', 'wasm');
    expect(r.code, r.err).toBe(0);
    const m = JSON.parse(r.out) as { path: string; id: string; score: number };
    expect(path.basename(m.path)).toBe(path.basename(items[4]!.file));
    expect(m.id).toMatch(/^[0-9a-f]{64}$/);
    expect(m.score).toBeGreaterThan(0.99);
  });

  it('serve --db answers POST /v1/search over real HTTP with the indexed paths', async () => {
    const server = await serveDb(db);
    try {
      const r = await fetch(`${server.url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'a photo of a blue square.', topK: 2 }) });
      expect(r.status).toBe(200);
      const { matches } = (await r.json()) as { matches: { metadata: { path: string } }[] };
      expect(labelOf(matches[0]!.metadata.path)).toBe('blue square');
    } finally {
      server.stop();
    }
  });

  it('index --field records filterable fields: serve --db (no --field) filters on them; index --optimize compacts without a folder', async () => {
    const fieldDb = path.join(tmp, 'field-db');
    const r = cli('index', photos, '--db', fieldDb, '--backend', 'wasm', '--field', 'folder:string', '--field', 'album:string,bytes:number');
    expect(r.code, r.err).toBe(0);
    const o = cli('index', '--db', fieldDb, '--optimize');
    expect(o.code, o.err).toBe(0);
    expect(o.err).toMatch(new RegExp(`^optimized ${fieldDb}: \\d+ data files merged into \\d+, \\d+ old versions deleted \\(\\d+\\.\\d MB\\) in \\d+\\.\\d s`));
    const server = await serveDb(fieldDb);
    try {
      const find = async (filter: object, topK = 20) => {
        const res = await fetch(`${server.url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'a photo', topK, filter }) });
        return { status: res.status, body: (await res.json()) as { matches?: { metadata: { path: string; folder: string } }[]; error?: { message: string } } };
      };
      const nested = await find({ folder: 'nested' });
      expect(nested.status).toBe(200);
      // Odd-numbered items were copied to nested/, the others to nested/deeper/ (see above).
      expect(nested.body.matches!.map((m) => m.metadata.path).sort()).toEqual(items.filter((_, i) => i % 2).map((it) => `nested/${path.basename(it.file)}`).sort());
      expect((await find({ album: 'trip' })).body.matches).toEqual([]);
      const post = await fetch(`${server.url}/v1/index?id=trip-1&metadata=${encodeURIComponent('{"album":"trip"}')}`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: readFileSync(path.join(EVAL_DIR, items[0]!.file)) });
      expect(post.status).toBe(200);
      expect((await find({ album: 'trip' })).body.matches!.map((m) => (m as unknown as { id: string }).id)).toEqual(['trip-1']);
      const unknown = await find({ colour: 'red' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error!.message).toContain('unknown field "colour" (filterable: folder, album, bytes)');
    } finally {
      server.stop();
    }
  });

  it('usage errors exit 2 with one line', () => {
    expect(cli('search', '--db', db).code).toBe(2);
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty);
    const e = cli('index', empty, '--db', db);
    expect(e.code).toBe(2);
    expect(e.err).toMatch(/no \.jpg/);
    for (const [spec, words] of [['album:date', '--field takes name:string, name:number or name:boolean, got "album:date"'], ['1st:string', '--field: filterable field "1st" must be a plain name']]) {
      const f = cli('index', photos, '--db', db, '--field', spec!);
      expect(f.code).toBe(2);
      expect(f.err).toContain(words);
    }
    const noFolder = cli('index', '--db', db);
    expect(noFolder.code).toBe(2);
    expect(noFolder.err).toContain('give a folder of images to index (or --optimize to compact the index only)');
    const nothing = cli('index', '--db', path.join(tmp, 'no-such-index'), '--optimize');
    expect(nothing.code).toBe(2);
    expect(nothing.err).toContain('there is no index at');
    const keep = cli('serve', '--db', db, '--keep-versions', 'soon');
    expect(keep.code).toBe(2);
    expect(keep.err).toContain('--keep-versions must be a number of seconds ≥ 0, got "soon"');
    const noDb = cli('serve', '--ann', '5000');
    expect(noDb.code).toBe(2);
    expect(noDb.err).toContain('--ann applies to the search index: give --db <dir> too');
    for (const bad of ['0', 'lots', '1.5']) {
      const a = cli('search', 'a red circle', '--db', db, '--ann', bad);
      expect(a.code).toBe(2);
      expect(a.err).toContain(`--ann must be an integer ≥ 1, got "${bad}"`);
    }
  });

  it('index --ann 1 builds the approximate index and says so', () => {
    const annDb = path.join(tmp, 'ann-db');
    const r = cli('index', photos, '--db', annDb, '--backend', 'wasm', '--ann', '1');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(new RegExp(`building the approximate search index \\(ivf-hnsw-sq\\) over ${items.length} images`));
    expect(r.err).toMatch(/approximate search index built in \d+\.\d s/);
    expect(readdirSync(path.join(annDb, 'images.lance', '_indices'))).not.toHaveLength(0);
  });

  it('search --ann off answers exactly on a table whose approximate index does not: the brute-force top 10 and cosines', async () => {
    // 3,000 embeddings around one image's (each its embedding plus a random unit vector: all about
    // equally far from it, so which partition each lands in is decided by the noise's direction)
    // behind an IVF-PQ index of 128 partitions: the image's nearest neighbours lie in many partitions,
    // and the index misses some of them with the driver's default query settings (20 partitions
    // probed). Only a search that really bypasses the index gives the exact ranking, computed here by
    // brute force.
    const lowDb = path.join(tmp, 'low-recall-db');
    const probe = path.join(EVAL_DIR, items[4]!.file);
    const clip = await createNodeClipEdge({ backends: [wasmBackend()], text: false, visionVariant: 'fp32' });
    const q = (await clip.embedImage(new Uint8Array(readFileSync(probe)))).embedding;
    const noise = uniform(3000, q.length, 29);
    const points = noise.map((z) => {
      const v = q.map((x, d) => x + z[d]!);
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    });
    const exact = points.map((p, i) => ({ id: `s${i}`, score: cosine(p, q) })).sort((a, b) => b.score - a.score).slice(0, 10);
    const built = await openNodeIndex(clip, { db: lowDb, ann: { type: 'ivf-pq', minRows: 1000, partitions: 128, subVectors: 4, nprobes: 1, refineFactor: 0 } });
    try {
      await built.upsert(points.map((vector, i) => ({ id: `s${i}`, vector, metadata: { path: `synthetic/${i}.jpg` } })), { model: clip.info.id });
      await built.persist();
    } finally {
      await built.close();
    }
    const asDefault = await openNodeIndex(clip, { db: lowDb });
    try {
      const ids = (await asDefault.query(q, { topK: 10 })).map((m) => m.id);
      expect(ids.filter((id) => exact.some((m) => m.id === id)).length, 'the index with default query settings misses some of the exact top 10').toBeLessThan(10);
    } finally {
      await asDefault.close();
    }
    const r = cli('search', '--image', probe, '--db', lowDb, '--top-k', '10', '--json', '--backend', 'wasm', '--variant', 'fp32', '--ann', 'off');
    expect(r.code, r.err).toBe(0);
    const got = r.out.trim().split('\n').map((l) => JSON.parse(l) as { path: string; id: string; score: number });
    expect(got.map((m) => m.id)).toEqual(exact.map((m) => m.id));
    expect(got.map((m) => m.path)).toEqual(exact.map((m) => `synthetic/${m.id.slice(1)}.jpg`));
    got.forEach((m, i) => expect(m.score).toBeCloseTo(exact[i]!.score, 4));
  });
});
