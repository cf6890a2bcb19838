import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EVAL_DIR, REPO_ROOT, type EvalSet } from '../helpers/clip.ts';

// The real runtimes, from the npm packages `deno` and `bun` (devDependencies).
const RUNTIMES = {
  deno: { bin: path.join(REPO_ROOT, 'node_modules/.bin/deno'), serve: ['run', '--allow-read', '--allow-env', '--allow-net', 'src/runtime/deno/main.ts'] },
  bun: { bin: path.join(REPO_ROOT, 'node_modules/.bin/bun'), serve: ['run', 'src/runtime/bun/main.ts'] },
} as const;

const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
const children: ChildProcess[] = [];
afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

/** Starts a server on an ephemeral loopback port and resolves with its URL (read from its log line). */
function start(name: keyof typeof RUNTIMES): Promise<string> {
  const rt = RUNTIMES[name];
  const child = spawn(rt.bin, [...rt.serve], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
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

describe.each(Object.keys(RUNTIMES) as (keyof typeof RUNTIMES)[])('%s runtime', (name) => {
  it(`serves the API on 127.0.0.1 and classifies a fixture image`, async () => {
    const url = await start(name);
    const item = evalSet.images.find((i) => i.split === 'seen' && i.file.endsWith('.jpg'))!;
    const r = await fetch(`${url}/v1/classify?${new URLSearchParams({ labels: evalSet.labels.join(','), topK: '1' })}`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: readFileSync(path.join(EVAL_DIR, item.file)),
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { results: { label: string }[]; model: string };
    expect(body.model).toBe('tiny-clip');
    expect(evalSet.labels).toContain(body.results[0]!.label);
    const bad = await fetch(`${url}/v1/classify?labels=a,b`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(10) });
    expect(bad.status).toBe(415);
  }, 120_000);
});

describe('examples', () => {
  const folder = mkdtempSync(path.join(tmpdir(), 'clip-edge-examples-'));
  const picks = evalSet.images.filter((i) => i.split === 'seen').filter((_, i) => i % 60 === 0);
  for (const p of picks) cpSync(path.join(EVAL_DIR, p.file), path.join(folder, path.basename(p.file)));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('examples/deno-classify-folder.ts prints one JSON line per image', () => {
    const r = spawnSync(RUNTIMES.deno.bin, ['run', '--allow-read', '--allow-env', 'examples/deno-classify-folder.ts', folder, evalSet.labels.join(',')], {
      cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; label: string });
    expect(lines.map((l) => l.file).sort()).toEqual(picks.map((p) => path.basename(p.file)).sort());
    for (const l of lines) expect(evalSet.labels).toContain(l.label);
  }, 150_000);

  it('examples/bun-search-folder.ts ranks the folder for a text query', () => {
    const r = spawnSync(RUNTIMES.bun.bin, ['run', 'examples/bun-search-folder.ts', folder, 'a photo of a red circle'], {
      cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; similarity: number });
    expect(lines.length).toBe(Math.min(5, picks.length));
    for (let i = 1; i < lines.length; i++) expect(lines[i - 1]!.similarity).toBeGreaterThanOrEqual(lines[i]!.similarity);
  }, 150_000);
});
