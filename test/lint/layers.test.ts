import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/clip.ts';

// docs/architecture.md's layer table, checked against the real imports of src/ and quantize/: every
// relative import (static or dynamic) must go to a layer its row allows. The table is the rule;
// an import it does not allow, or a folder it does not name, fails here with the file and line.
const doc = readFileSync(path.join(REPO_ROOT, 'docs/architecture.md'), 'utf8');
const table = doc.slice(doc.indexOf('<!-- layers:begin -->'), doc.indexOf('<!-- layers:end -->'));
const rules = new Map(
  [...table.matchAll(/^\| `([^`]+)` \| ([^|]+) \|/gm)].map(([, layer, allowed]) => [layer!, [...allowed!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)]),
);
// Longest first: src/core/ort before src/core, src/runtime/adapter.ts before src/runtime/…
const layers = [...rules.keys()].sort((a, b) => b.length - a.length);
const layerOf = (file: string): string | undefined => layers.find((l) => file === l || file.startsWith(`${l}/`));

function sources(dir: string): string[] {
  return readdirSync(path.join(REPO_ROOT, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(REPO_ROOT, rel)).isDirectory()) return name === 'public' ? [] : sources(rel);
    return rel.endsWith('.ts') && !rel.endsWith('.d.ts') ? [rel] : [];
  });
}

/** Every relative import of a file: [line, target file relative to the repository]. */
function importsOf(file: string): [number, string][] {
  const out: [number, string][] = [];
  readFileSync(path.join(REPO_ROOT, file), 'utf8').split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/(?:from\s+|import\s*\(\s*|^import\s+)'(\.{1,2}\/[^']+)'/g)) {
      out.push([i + 1, path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]!))]);
    }
  });
  return out;
}

describe('docs/architecture.md layer table = the import graph', () => {
  const files = [...sources('src'), ...sources('quantize')];

  it('the table has rows to check', () => {
    expect(rules.size).toBeGreaterThan(10);
  });

  it('names the layer of every source file', () => {
    expect(files.filter((f) => !layerOf(f))).toEqual([]);
  });

  it('every import goes to a layer its row allows', () => {
    const broken: string[] = [];
    for (const file of files) {
      const from = layerOf(file)!;
      const allowed = [from, ...rules.get(from)!];
      for (const [line, target] of importsOf(file)) {
        if (!target.startsWith('src/') && !target.startsWith('quantize/')) continue; // third_party data, package.json
        const to = layerOf(target);
        if (!to || !allowed.includes(to)) broken.push(`${file}:${line} (${from}) imports ${target} (${to ?? 'no layer'})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('fails on an import the table forbids (the check is live)', () => {
    const from = 'src/core';
    const allowed = [from, ...rules.get(from)!];
    expect(allowed.includes(layerOf('src/http/app.ts')!)).toBe(false);
    expect(allowed.includes(layerOf('src/core/ort/backend.ts')!)).toBe(false); // the core reaches ORT only through the Backend seam
    expect(rules.get('src/http')!.includes('src/runtime/fs')).toBe(false);
  });
});
