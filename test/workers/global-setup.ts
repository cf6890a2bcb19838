import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import type { NodeAnswers } from './fixtures.ts';

/**
 * Node's answers for the images the workerd tests classify, computed at every run by
 * node-answers.ts (same model folder, WASM backend) and handed to the tests with `provide`:
 * nothing is committed, so a retrained model never leaves a stale fixture.
 */
export default function setup(project: TestProject): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'test/workers/node-answers.ts'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  project.provide('nodeAnswers', JSON.parse(out) as NodeAnswers);
}
