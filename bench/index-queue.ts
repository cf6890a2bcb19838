// npm run bench:index-queue — images/s of one index-queue consumer in workerd (`wrangler dev
// --local`, miniflare's Queues and R2, VectorizeStandIn for Vectorize): the bundled eval set (464
// images) is put into local R2, one warm-up message loads the model, then every key is enqueued and
// the wall time until all are in the index is measured from Node. Batches of up to 100 messages
// (bench/workers/index-queue.toml); locally one consumer invocation runs at a time, so this is the
// per-consumer rate that the paper estimate in docs/search.md multiplies by the concurrency.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { uploadPlan } from '../scripts/workers-plan.ts';
import { ROOT } from './lib/case.ts';

const MODEL = path.join(ROOT, 'models/tiny-clip');
const EVAL = path.join(ROOT, 'test/fixtures/tiny-clip-eval/images');
const manifest = JSON.parse(readFileSync(path.join(MODEL, 'manifest.json'), 'utf8')) as { embedDim: number; variants: never };

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

async function main(): Promise<void> {
  const persist = mkdtempSync(path.join(tmpdir(), 'clip-edge-queue-bench-'));
  const [port, inspector] = [await freePort(), await freePort()];
  const proc: ChildProcess = spawn(
    process.execPath,
    [path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', '-c', 'bench/workers/index-queue.toml', '--local', '--ip', '127.0.0.1', '--port', String(port),
      '--inspector-port', String(inspector), '--persist-to', persist, '--log-level', 'warn', '--var', `STAND_IN_DIMENSIONS:${manifest.embedDim}`],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const call = async (route: string, body?: BodyInit) => {
    const r = await fetch(`${url}${route}`, { method: body === undefined ? 'GET' : 'POST', ...(body !== undefined ? { body } : {}) });
    if (!r.ok) throw new Error(`${route}: ${r.status} ${await r.text()}`);
    return r.json() as Promise<{ vectorCount: number }>;
  };
  try {
    for (let i = 0; !(await fetch(`${url}/test/ping`).then((r) => r.ok, () => false)); i++) {
      if (proc.exitCode !== null || i > 1200) throw new Error(`wrangler dev did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const files = (readdirSync(MODEL, { recursive: true }) as string[]).filter((f) => statSync(path.join(MODEL, f)).isFile());
    for (const o of uploadPlan(files, manifest.variants, { model: 'tiny-clip', variant: 'auto', text: false }).r2) await call(`/test/put?bucket=MODELS&key=${encodeURIComponent(o.key)}`, readFileSync(path.join(MODEL, o.path)));
    const images = readdirSync(EVAL).sort();
    for (const f of images) await call(`/test/put?bucket=IMAGES&key=${encodeURIComponent(f)}`, readFileSync(path.join(EVAL, f)));
    const waitFor = async (n: number) => {
      for (;;) {
        if ((await call('/test/state')).vectorCount >= n) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await call('/test/enqueue', JSON.stringify([{ key: images[0] }]));
    await waitFor(1);
    const t0 = performance.now();
    await call('/test/enqueue', JSON.stringify(images.slice(1).map((key) => ({ key }))));
    await waitFor(images.length);
    const seconds = (performance.now() - t0) / 1000;
    const result = { images: images.length - 1, seconds, imagesPerSecond: (images.length - 1) / seconds, batchSize: 100 };
    console.log(JSON.stringify(result));
    writeFileSync(path.join(ROOT, 'bench/results/index-queue-workerd.json'), `${JSON.stringify({ date: new Date().toISOString().slice(0, 10), model: 'tiny-clip', ...result }, null, 1)}\n`);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    rmSync(persist, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
