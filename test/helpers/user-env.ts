import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * The environment a user's shell gives a documented command: this process's environment without
 * what the test runner adds (vitest.config.ts's CLIP_EDGE_PROMPT_CACHE, VITEST_*, NODE_ENV=test),
 * and HOME set to a fresh empty folder — a new user, whose ~/.cache the command may write to
 * without touching the real one. Tests of documented commands spawn them with this.
 */
export function userEnv(extra: Record<string, string> = {}): { env: NodeJS.ProcessEnv; home: string } {
  const home = mkdtempSync(path.join(tmpdir(), 'clip-edge-home-'));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'CLIP_EDGE_PROMPT_CACHE' || k.startsWith('VITEST') || k === 'TEST' || (k === 'NODE_ENV' && v === 'test')) continue;
    env[k] = v;
  }
  // Deno keeps its own module cache under $HOME unless told: keep using the machine's.
  env.DENO_DIR ??= process.env.DENO_DIR ?? path.join(process.env.HOME ?? tmpdir(), '.cache', 'deno');
  return { env: { ...env, HOME: home, NO_COLOR: '1', ...extra }, home };
}
