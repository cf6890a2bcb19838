// The Cloudflare bulk-indexing pipeline for real in miniflare (`wrangler dev --local`): images in
// local R2 → their keys on a Queue → the production consumer (batches, retries, dead-letter queue) →
// embeddings from the Worker's vision tower → VectorizeStandIn. Expected ids are the sha256 of each
// file, computed here with node:crypto.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadPlan } from '../../../scripts/workers-plan.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const MODEL = path.join(ROOT, 'models/tiny-clip');
const EVAL = path.join(ROOT, 'test/fixtures/tiny-clip-eval');
const manifest = JSON.parse(readFileSync(path.join(MODEL, 'manifest.json'), 'utf8')) as { embedDim: number; variants: never };
const evalSet = JSON.parse(readFileSync(path.join(EVAL, 'labels.json'), 'utf8')) as { images: { file: string; label: string }[] };
const IMAGES = evalSet.images.filter((i) => i.file.endsWith('.jpg')).filter((_, i) => i % 40 === 0).slice(0, 10);
const CORRUPT = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 2, 3]);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

const persist = mkdtempSync(path.join(tmpdir(), 'clip-edge-queue-'));
let proc: ChildProcess | undefined;
let url = '';
let log = '';

const call = async (route: string, body?: BodyInit) => {
  const r = await fetch(`${url}${route}`, { method: body === undefined ? 'GET' : 'POST', ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(30_000) });
  if (!r.ok) throw new Error(`${route}: ${r.status} ${await r.text()}`);
  return r.json() as Promise<Record<string, unknown>>;
};

interface State {
  vectorCount: number;
  calls: { method: string; count: number }[];
  crashes: number;
  deadLetters: { body: { key: string }; code: string; message: string }[];
  deliveries: { queue: string; size: number }[];
  found: { id: string; metadata: { key: string } }[];
}
const state = (ids: string[] = []) => call(`/test/state?${new URLSearchParams(ids.map((id) => ['id', id]))}`) as unknown as Promise<State>;

beforeAll(async () => {
  const port = await freePort();
  const inspector = await freePort();
  proc = spawn(
    process.execPath,
    [path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', '-c', 'test/workers/queue/wrangler.toml', '--local', '--ip', '127.0.0.1', '--port', String(port),
      '--inspector-port', String(inspector), '--persist-to', persist, '--log-level', 'warn', '--var', `STAND_IN_DIMENSIONS:${manifest.embedDim}`],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`wrangler dev exited:\n${log}`);
    if (i > 1200) throw new Error(`wrangler dev did not start:\n${log}`);
    if (await fetch(`${url}/test/ping`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // The model folder into local R2, as `npm run workers:upload` would put it into the bucket.
  const files = (readdirSync(MODEL, { recursive: true }) as string[]).filter((f) => statSync(path.join(MODEL, f)).isFile());
  for (const o of uploadPlan(files, manifest.variants, { model: 'tiny-clip', variant: 'auto', text: false }).r2) {
    await call(`/test/put?bucket=MODELS&key=${encodeURIComponent(o.key)}`, readFileSync(path.join(MODEL, o.path)));
  }
  for (const img of IMAGES) await call(`/test/put?bucket=IMAGES&key=${encodeURIComponent(`photos/${path.basename(img.file)}`)}`, readFileSync(path.join(EVAL, img.file)));
  await call('/test/put?bucket=IMAGES&key=photos/broken.jpg', CORRUPT);
}, 240_000);

afterAll(async () => {
  if (proc && proc.exitCode === null) {
    const exited = new Promise((r) => proc!.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
  rmSync(persist, { recursive: true, force: true });
});

async function until(cond: (s: State) => boolean, ids: string[], ms = 90_000): Promise<State> {
  const t0 = Date.now();
  for (;;) {
    const s = await state(ids);
    if (cond(s)) return s;
    if (Date.now() - t0 > ms) throw new Error(`timed out; last state ${JSON.stringify({ ...s, calls: s.calls.length })}\n${log.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('index queue in miniflare: R2 → Queue → consumer → Vectorize (stand-in)', () => {
  const ids = IMAGES.map((i) => sha(new Uint8Array(readFileSync(path.join(EVAL, i.file)))));

  it('every image indexed exactly once, the corrupt one dead-lettered, a crash after an upsert retried without duplicates', async () => {
    await call('/test/crash?times=1');
    const keys = [...IMAGES.map((i) => ({ key: `photos/${path.basename(i.file)}` })), { key: 'photos/broken.jpg' }, { key: 'photos/never-uploaded.jpg' }, { nothing: 'here' }];
    await call('/test/enqueue', JSON.stringify(keys));
    const s = await until((x) => x.vectorCount >= IMAGES.length && x.deadLetters.length >= 3 && x.found.length === IMAGES.length && x.crashes >= 1, ids);
    // Exactly the images, each under the sha256 of its bytes, with its R2 key as metadata.
    expect(s.vectorCount).toBe(IMAGES.length);
    expect(s.found.map((f) => f.id).sort()).toEqual([...ids].sort());
    for (const [i, img] of IMAGES.entries()) expect(s.found.find((f) => f.id === ids[i])!.metadata.key).toBe(`photos/${path.basename(img.file)}`);
    // The crash happened after an upsert, so that batch was upserted twice: same ids, no duplicates.
    expect(s.crashes).toBe(1);
    const upserted = s.calls.filter((c) => c.method === 'upsert').reduce((n, c) => n + c.count, 0);
    expect(upserted).toBeGreaterThan(IMAGES.length);
    // Batches respect max_batch_size.
    expect(Math.max(...s.deliveries.filter((d) => d.queue === 'clip-edge-index').map((d) => d.size))).toBeLessThanOrEqual(4);
    // Permanent failures went to the dead-letter queue with their reason.
    const byKey = Object.fromEntries(s.deadLetters.map((d) => [d.body.key ?? JSON.stringify(d.body), d.code]));
    expect(byKey).toEqual({ 'photos/broken.jpg': 'CORRUPT_IMAGE', 'photos/never-uploaded.jpg': 'NOT_FOUND', '{"nothing":"here"}': 'BAD_INPUT' });
  }, 200_000);

  it('sending the same keys again (at-least-once delivery, a rerun) changes nothing', async () => {
    const before = await state(ids);
    await call('/test/enqueue', JSON.stringify(IMAGES.slice(0, 3).map((i) => ({ object: { key: `photos/${path.basename(i.file)}` }, action: 'PutObject' }))));
    const s = await until((x) => x.calls.length > before.calls.length, ids);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await state()).vectorCount).toBe(IMAGES.length);
    expect(s.deadLetters.length).toBe(before.deadLetters.length);
  }, 200_000);

  it('the same Worker answers POST /v1/search over the indexed images (image query: itself first)', async () => {
    const probe = readFileSync(path.join(EVAL, IMAGES[2]!.file));
    const r = await fetch(`${url}/v1/search?topK=3`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: probe });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { matches: { id: string; score: number; metadata: { key: string } }[] };
    expect(body.matches[0]!.id).toBe(ids[2]);
    expect(body.matches[0]!.score).toBeGreaterThan(0.999);
    expect(body.matches[0]!.metadata.key).toBe(`photos/${path.basename(IMAGES[2]!.file)}`);
  }, 60_000);
});
