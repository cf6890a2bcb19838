import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/clip.ts';

// Comments in config files point readers at docs: the files they name exist, and a README section
// they name is a heading of the README (sections move to docs/ as it grows).
const CONFIGS = ['wrangler.toml', 'examples/worker/wrangler.toml', 'tsconfig.json', 'vitest.config.ts', 'eslint.config.js'].filter((f) => existsSync(path.join(REPO_ROOT, f)));
const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const headings = new Set([...readme.matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!.trim()));

describe('pointers to the docs in config files', () => {
  it.each(CONFIGS)('%s names docs that exist', (file) => {
    const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
    for (const [doc] of text.matchAll(/\bdocs\/[\w./-]+\.md\b/g)) expect(existsSync(path.join(REPO_ROOT, doc)), `${file} → ${doc}`).toBe(true);
    for (const [, section] of text.matchAll(/README "([^"]+)"/g)) expect(headings.has(section!), `${file} → README "${section}"`).toBe(true);
  });
});
