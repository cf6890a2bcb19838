// The index contract for the LanceDB driver under Deno and Bun (the npm packages' binaries), as a
// plain script (test/search/run-contract.ts): the same cases as in Node.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/clip.ts';
import { indexContract } from '../contract/search-index.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'clip-edge-lancedb-rt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const names = indexContract(async () => undefined as never).map((c) => c.name);

const RUNTIMES = {
  deno: [path.join(REPO_ROOT, 'node_modules/.bin/deno'), 'run', '-A', 'test/search/run-contract.ts'],
  bun: [path.join(REPO_ROOT, 'node_modules/.bin/bun'), 'run', 'test/search/run-contract.ts'],
} as const;

describe.each(Object.keys(RUNTIMES) as (keyof typeof RUNTIMES)[])('index contract: LanceDB driver under %s', (name) => {
  it('passes every case', () => {
    const [bin, ...args] = RUNTIMES[name];
    const r = spawnSync(bin, [...args, path.join(dir, name)], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 180_000, env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { runtime: string; passed: string[]; failed: { name: string; error: string }[] };
    expect(out.runtime).toBe(name);
    expect(out.failed).toEqual([]);
    expect(out.passed).toEqual(names);
  }, 200_000);
});
