import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EVAL_DIR, REPO_ROOT } from '../helpers/clip.ts';
import { userEnv } from '../helpers/user-env.ts';

// `clip-edge index` and `search` on Bun with LanceDB (the `bun` devDependency, a user's environment):
// the results, and no warning on stderr that the kit causes (LanceDB's deprecation of searches that
// select columns without `_distance`, which only Bun's LanceDB build prints).
const tmp = mkdtempSync(path.join(tmpdir(), 'clip-edge-bun-lancedb-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const bun = (...args: string[]) => spawnSync(path.join(REPO_ROOT, 'node_modules/.bin/bun'), ['bin/clip-edge.js', ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000, env: userEnv().env });

describe('clip-edge index / search on Bun with LanceDB', () => {
  it('ranks the indexed images for a text query with no deprecation warning', () => {
    const images = path.join(tmp, 'images');
    mkdirSync(images);
    for (const f of ['red_circle_01.jpg', 'blue_star_01.jpg', 'green_heart_01.jpg']) cpSync(path.join(EVAL_DIR, 'images', f), path.join(images, f));
    const db = path.join(tmp, 'db');
    const index = bun('index', images, '--db', db);
    expect(index.status, index.stderr).toBe(0);
    const search = bun('search', 'a photo of a red circle', '--db', db);
    expect(search.status, search.stderr).toBe(0);
    expect(search.stdout.trim().split('\n')[0]).toMatch(/red_circle_01\.jpg$/);
    expect(search.stderr).not.toMatch(/deprecat/i);
  }, 240_000);
});
