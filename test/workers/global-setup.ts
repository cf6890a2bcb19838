import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import type { NodeAnswers } from './fixtures.ts';

/**
 * Node's answers for the images the workerd tests classify, computed at every run by
 * node-answers.ts (same model folder, WASM backend) and handed to the tests with `provide`:
 * nothing is committed, so a retrained model never leaves a stale fixture.
 */
export default function setup(project: TestProject): void {
  project.provide('nodeAnswers', prepared().nodeAnswers);
}

/**
 * Both workerd projects (vitest.config.ts) run this setup, each with its own module instance; the
 * work is done once per vitest process, kept on globalThis.
 */
function prepared(): { nodeAnswers: NodeAnswers } {
  const g = globalThis as { __clipEdgeWorkerdSetup?: { nodeAnswers: NodeAnswers } };
  if (!g.__clipEdgeWorkerdSetup) {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    splitTinyClip(root);
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'test/workers/node-answers.ts'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
    g.__clipEdgeWorkerdSetup = { nodeAnswers: JSON.parse(out) as NodeAnswers };
  }
  return g.__clipEdgeWorkerdSetup;
}

/**
 * The bundled model with its int8 vision tower cut in two by the real CLI (`clip-edge quantize
 * --split int8 --parts 2`), for the part Workers of vision-split.test.ts; rebuilt at every run.
 */
function splitTinyClip(root: string): void {
  const dir = path.join(root, '.cache/workerd-tests/tiny-clip-split');
  rmSync(dir, { recursive: true, force: true });
  cpSync(path.join(root, 'models/tiny-clip'), dir, { recursive: true });
  execFileSync(process.execPath, ['bin/clip-edge.js', 'quantize', dir, '--split', 'int8', '--parts', '2'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
}
