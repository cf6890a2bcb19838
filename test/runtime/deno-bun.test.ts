import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killGroups } from '../helpers/process-groups.ts';
import { EVAL_DIR, REPO_ROOT, type EvalSet } from '../helpers/clip.ts';
import { userEnv } from '../helpers/user-env.ts';
import { slowVisionFolder } from '../helpers/slow-vision.ts';
import { rawExchange, requestHead } from '../../bench/lib/socket.ts';

// The real runtimes, from the npm packages `deno` and `bun` (devDependencies), run with the
// README's commands and permissions in a user's environment (no test-only variables).
const RUNTIMES = {
  deno: { bin: path.join(REPO_ROOT, 'node_modules/.bin/deno'), serve: ['run', '--allow-read', '--allow-env', '--allow-net', 'src/runtime/deno/main.ts'] },
  bun: { bin: path.join(REPO_ROOT, 'node_modules/.bin/bun'), serve: ['run', 'src/runtime/bun/main.ts'] },
} as const;

const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
/** PyTorch's top-1 per eval image (the recipe's fp32 checkpoint, PIL preprocessing, the eval templates). */
const torchTop1 = (JSON.parse(readFileSync(path.join(EVAL_DIR, 'torch-reference.json'), 'utf8')) as { torch_top1: Record<string, string> }).torch_top1;
const children: ChildProcess[] = [];
afterAll(() => killGroups(children)); // each server leads its own process group (detached)

/** Starts a server on an ephemeral loopback port and resolves with its URL (read from its log line). */
function start(name: keyof typeof RUNTIMES, extraEnv: Record<string, string> = {}): Promise<string> {
  const rt = RUNTIMES[name];
  const child = spawn(rt.bin, [...rt.serve], {
    cwd: REPO_ROOT,
    env: userEnv({ PORT: '0', HOST: '127.0.0.1', DENO_NO_UPDATE_CHECK: '1', ...extraEnv }).env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let log = '';
    const onData = (d: Buffer) => {
      log += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code}: ${log.slice(-2000)}`)));
  });
}

const slowModel = slowVisionFolder(40); // inference of about a second: see threads-probe.ts
afterAll(() => rmSync(slowModel, { recursive: true, force: true }));

describe.each(Object.keys(RUNTIMES) as (keyof typeof RUNTIMES)[])('%s runtime', (name) => {
  it('decodes in a decode thread and infers in the inference thread, the event loop free meanwhile, with the calling thread\'s results; a crashed inference thread is restarted (test/runtime/threads-probe.ts)', () => {
    const args = name === 'deno' ? ['run', '--allow-read', '--allow-env', '--allow-net'] : ['run'];
    const r = spawnSync(RUNTIMES[name].bin, [...args, 'test/runtime/threads-probe.ts', slowModel], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 150_000, env: userEnv({ DENO_NO_UPDATE_CHECK: '1' }).env });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toEqual({ decode: { loopFree: true, sameCrop: true }, inference: { loopFree: true, sameEmbedding: true }, crash: { failedWith: 'BACKEND_UNAVAILABLE', sameEmbeddingAfterRestart: true } });
  }, 180_000);


  it(`serves the API on 127.0.0.1 and classifies a fixture image`, async () => {
    const url = await start(name);
    const item = evalSet.images.find((i) => i.split === 'seen' && i.file.endsWith('.jpg') && torchTop1[i.file] === i.label)!;
    const r = await fetch(`${url}/v1/classify?${new URLSearchParams({ labels: evalSet.labels.join(','), topK: '1' })}`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: readFileSync(path.join(EVAL_DIR, item.file)),
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { results: { label: string }[]; model: string };
    expect(body.model).toBe('tiny-clip');
    expect(body.results[0]!.label).toBe(torchTop1[item.file]);
    const bad = await fetch(`${url}/v1/classify?labels=a,b`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(10) });
    expect(bad.status).toBe(415);
  }, 120_000);

  it('a port already in use: the server closes its kit (decode and inference threads) and exits with the error', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    try {
      const port = String((taken.address() as AddressInfo).port);
      const child = spawn(RUNTIMES[name].bin, [...RUNTIMES[name].serve], { cwd: REPO_ROOT, env: userEnv({ PORT: port, HOST: '127.0.0.1', DENO_NO_UPDATE_CHECK: '1' }).env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      children.push(child);
      let log = '';
      child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      const code = await new Promise<number | null>((r) => child.on('exit', r)); // it ends by itself (the test's timeout otherwise)
      expect(code, log).not.toBe(0);
      expect(log).toMatch(/in use|EADDRINUSE|AddrInUse/i);
      expect(log).not.toMatch(/listening on/);
    } finally {
      taken.close();
    }
  }, 120_000);

  it('the same in-flight guard: two stalled uploads get 503 TIMEOUT, then a classify gets 200 and the gauge is 0 (issue 18)', async () => {
    const url = await start(name, { CLIP_EDGE_MAX_IN_FLIGHT: '2', CLIP_EDGE_REQUEST_TIMEOUT_MS: '3000' }); // the report's 3 s
    const item = evalSet.images.find((i) => i.file.endsWith('.jpg'))!;
    const classify = () => fetch(`${url}/v1/classify?labels=a,b`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: readFileSync(path.join(EVAL_DIR, item.file)) });
    // A user's fresh HOME has no prompt cache: warm the sessions and these labels' class matrix first,
    // so that the 3-second deadline measures the guard, not a cold start (bounded retries).
    for (let i = 0; i < 30 && (await classify().then(async (r) => (await r.arrayBuffer(), r.status))) !== 200; i++);
    const stalled = await Promise.all([0, 1].map(() => rawExchange(url, { pieces: [requestHead('POST', '/v1/classify?labels=a,b', ['Content-Type: image/jpeg', 'Content-Length: 100']), 'abcde'], timeoutMs: 20_000 })));
    expect(stalled.map((r) => [r.status, JSON.parse(r.body).error.code])).toEqual([[503, 'TIMEOUT'], [503, 'TIMEOUT']]);
    const ok = await classify();
    expect(ok.status, await ok.clone().text()).toBe(200);
    const gauge = (await (await fetch(`${url}/v1/load`)).json()) as { inFlight: number; admitted: number; released: number };
    expect(gauge.inFlight).toBe(0);
    expect(gauge.released).toBe(gauge.admitted);
  }, 120_000);
});

describe('examples', () => {
  const folder = mkdtempSync(path.join(tmpdir(), 'clip-edge-examples-'));
  const picks = evalSet.images.filter((i) => i.split === 'seen').filter((_, i) => i % 60 === 0);
  for (const p of picks) cpSync(path.join(EVAL_DIR, p.file), path.join(folder, path.basename(p.file)));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('examples/deno-classify-folder.ts prints one JSON line per image, each PyTorch\'s top-1 (README command and permissions)', () => {
    const { env, home } = userEnv();
    const r = spawnSync(RUNTIMES.deno.bin, ['run', '--allow-read', '--allow-env', 'examples/deno-classify-folder.ts', folder, evalSet.labels.join(',')], {
      cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000, env,
    });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; label: string });
    expect(lines.map((l) => l.file).sort()).toEqual(picks.map((p) => path.basename(p.file)).sort());
    const expected = Object.fromEntries(picks.map((p) => [path.basename(p.file), torchTop1[p.file]]));
    expect(Object.fromEntries(lines.map((l) => [l.file, l.label]))).toEqual(expected);
    // Without --allow-write the per-user cache is not written (a warning says so) and nothing else breaks.
    expect(existsSync(path.join(home, '.cache', 'clip-edge'))).toBe(false);
  }, 150_000);

  it('the Deno example with --allow-write keeps inline labels in ~/.cache/clip-edge/prompts', () => {
    const { env, home } = userEnv();
    const r = spawnSync(RUNTIMES.deno.bin, ['run', '--allow-read', '--allow-env', '--allow-write', 'examples/deno-classify-folder.ts', folder, 'red circle,blue star'], {
      cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000, env,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('prompt cache write failed');
    const dirs = readdirSync(path.join(home, '.cache', 'clip-edge', 'prompts'));
    expect(dirs).toEqual([expect.stringMatching(/^tiny-clip-[0-9a-f]{12}$/)]);
    expect(readdirSync(path.join(home, '.cache', 'clip-edge', 'prompts', dirs[0]!)).filter((f) => f.startsWith('inline-'))).toHaveLength(2);
  }, 150_000);

  it('examples/bun-search-folder.ts ranks the folder for a text query', () => {
    const r = spawnSync(RUNTIMES.bun.bin, ['run', 'examples/bun-search-folder.ts', folder, 'a photo of a red circle'], {
      cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000, env: userEnv().env,
    });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; similarity: number });
    expect(lines.length).toBe(Math.min(5, picks.length));
    for (let i = 1; i < lines.length; i++) expect(lines[i - 1]!.similarity).toBeGreaterThanOrEqual(lines[i]!.similarity);
  }, 150_000);
});
