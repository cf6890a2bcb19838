// The README's code is the examples' code: each js/ts block there is marked with the example file
// it shows and must equal it, and test/package/consumer.test.ts runs those files against the packed
// package in a fresh project. So a snippet in the README cannot drift from code that runs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/clip.ts';

const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const BLOCK = /(?:<!-- example: (\S+) -->\n)?```(js|ts|javascript|typescript)\n([\s\S]*?)```/g;

describe('README.md', () => {
  it('is a front page of at most 15 KB', () => {
    expect(Buffer.byteLength(README)).toBeLessThanOrEqual(15 * 1024);
  });

  const blocks = [...README.matchAll(BLOCK)].map((m) => ({ file: m[1], code: m[3]! }));
  it('has code blocks, and every one names the example file it shows', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    expect(blocks.filter((b) => !b.file).map((b) => b.code.slice(0, 80))).toEqual([]);
  });

  it.each(blocks.filter((b) => b.file).map((b) => [b.file!, b.code]))('its %s block equals the file', (file, code) => {
    expect(code).toBe(readFileSync(path.join(REPO_ROOT, file), 'utf8'));
  });
});
