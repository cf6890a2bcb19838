import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/clip.ts';
import { userEnv } from '../helpers/user-env.ts';

// `--help` as a user reads it: piped (not a terminal), from a shell with no NO_COLOR, CI or TEST set.
const help = (...args: string[]) => {
  const { env } = userEnv();
  for (const k of ['NO_COLOR', 'FORCE_COLOR', 'CI', 'TEST']) delete env[k];
  const r = spawnSync(process.execPath, ['bin/clip-edge.js', ...args, '--help'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000, env: { ...env, TERM: 'xterm-256color' } });
  return { code: r.status, out: r.stdout + r.stderr };
};

describe('clip-edge --help', () => {
  it('prints no ANSI colour codes when its output is piped', () => {
    for (const args of [[], ['classify'], ['prompts', 'build']]) {
      const r = help(...args);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(/USAGE/);
      expect(r.out).not.toMatch(/\u001b\[/);
    }
  });

  it('classify --help shows its image file arguments', () => {
    const r = help('classify');
    expect(r.out).toMatch(/USAGE clip-edge classify \[OPTIONS\] \[IMAGES\]/);
    expect(r.out).toMatch(/IMAGES\s+Image files/);
  });
});
