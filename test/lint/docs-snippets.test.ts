// The code the documentation shows is code that runs or type-checks. Every js/ts block in README.md
// and docs/*.md carries a marker on the line above its fence:
//   <!-- example: examples/x.mjs -->   the block equals that file, which test/package/consumer.test.ts
//                                      runs against the packed package in a fresh project;
//   <!-- fragment: why it is partial --> (optionally `… given: declare const bytes: Uint8Array`) the
//                                      block is type-checked here against the sources, with the doc's
//                                      earlier fragments in scope (as a reader reads them).
// So a snippet cannot drift from the code: a renamed export, a wrong option or a changed example fails
// this file, naming the doc and line.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/clip.ts';
import { codeBlocks, docs, isScript, type CodeBlock } from '../helpers/doc-blocks.ts';

const DOCS = docs();
const blocks = DOCS.flatMap(codeBlocks).filter(isScript);
const where = (b: CodeBlock) => `${b.doc}:${b.line}`;
const examples = blocks.filter((b) => b.marker?.key === 'example');
const fragments = blocks.filter((b) => b.marker?.key === 'fragment');
/** At most this many blocks may be partial code; the rest are whole programs in examples/. */
const MAX_FRAGMENTS = 8;

describe('README.md', () => {
  it('is a front page of at most 15 KB', () => {
    const readme = DOCS.find((d) => d.name === 'README.md')!;
    expect(Buffer.byteLength(readme.text)).toBeLessThanOrEqual(15 * 1024);
  });

  it('shows at least three examples', () => {
    expect(examples.filter((b) => b.doc === 'README.md').length).toBeGreaterThanOrEqual(3);
  });
});

describe('js/ts blocks in README.md and docs/*.md', () => {
  it('each carries an <!-- example: file --> or <!-- fragment: reason --> marker', () => {
    const unmarked = blocks.filter((b) => b.marker?.key !== 'example' && b.marker?.key !== 'fragment');
    expect(unmarked.map((b) => `${where(b)}: unmarked ${b.lang} block starting "${b.code.slice(0, 60).split('\n')[0]}"`)).toEqual([]);
  });

  it(`are few fragments (≤ ${MAX_FRAGMENTS}), each with its reason`, () => {
    expect(fragments.length).toBeLessThanOrEqual(MAX_FRAGMENTS);
    expect(fragments.filter((b) => fragmentParts(b).reason.length < 10).map(where)).toEqual([]);
  });

  const consumerTest = readFileSync(path.join(REPO_ROOT, 'test/package/consumer.test.ts'), 'utf8');
  it.each(examples.map((b) => [where(b), b.marker!.value, b] as const))('%s equals %s, which the consumer test runs', (_, file, b) => {
    expect(b.code, `${where(b)} differs from ${file}`).toBe(readFileSync(path.join(REPO_ROOT, file), 'utf8'));
    // consumer.test.ts copies examples by base name (`'node-classify.mjs'`) or whole folders (`examples/worker`).
    const parts = file.split('/');
    const named = consumerTest.includes(`'${parts.at(-1)}'`) || parts.some((_p, i) => i > 0 && consumerTest.includes(`'${parts.slice(0, i + 1).join('/')}'`));
    expect(named, `${file} (shown at ${where(b)}) is not run by test/package/consumer.test.ts`).toBe(true);
  });

  it('fragments type-check against the sources (strict), each doc as one module', () => {
    // A deliberately wrong fragment checked alongside shows the check is not vacuous.
    const sentinel: CodeBlock = { doc: 'sentinel.md', line: 1, lang: 'ts', code: "import { noSuchExport } from 'clip-edge/node';\n", marker: { key: 'fragment', value: 'proves the checker reports errors' } };
    const errors = typeCheck([...fragments, sentinel]);
    expect(errors.filter((e) => e.startsWith('sentinel.md:1: TS2305'))).toHaveLength(1);
    const real = errors.filter((e) => !e.startsWith('sentinel.md'));
    expect(real, real.join('\n')).toEqual([]);
  });
});

function fragmentParts(b: CodeBlock): { reason: string; given: string } {
  const [reason = '', given = ''] = b.marker!.value.split(/\s*\bgiven:\s*/);
  return { reason: reason.replace(/[;,\s]+$/, ''), given: given.trim() };
}

/** `clip-edge/<entry>` → its TypeScript source, from package.json's `exports` (dist/x.d.ts ↔ x.ts). */
function entryPaths(): Record<string, string[]> {
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; exports: Record<string, string | { types?: string }> };
  const paths: Record<string, string[]> = {};
  for (const [key, target] of Object.entries(pkg.exports)) {
    const types = typeof target === 'object' ? target.types : undefined;
    if (types) paths[path.posix.join(pkg.name, key)] = [types.replace(/^\.\/dist\//, '').replace(/\.d\.ts$/, '.ts')];
  }
  return paths;
}

/** Type-checks each doc's fragments as one in-memory module; returns `doc:line: message` per error. */
function typeCheck(all: CodeBlock[]): string[] {
  const files = new Map<string, { code: string; lines: string[] }>();
  for (const doc of new Set(all.map((b) => b.doc))) {
    const code: string[] = [];
    const lines: string[] = []; // doc:line of each line of the module
    for (const b of all.filter((f) => f.doc === doc)) {
      const { given } = fragmentParts(b);
      for (const g of given ? given.split(/;\s*/).filter(Boolean) : []) {
        code.push(`${g};`);
        lines.push(`${where(b)} (given)`);
      }
      b.code.trimEnd().split('\n').forEach((l, i) => {
        code.push(l);
        lines.push(`${b.doc}:${b.line + i}`);
      });
    }
    code.push('export {};');
    lines.push(`${doc} (end)`);
    files.set(path.join(REPO_ROOT, `${doc}.fragments.ts`), { code: code.join('\n'), lines });
  }
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    types: ['node'],
    typeRoots: [path.join(REPO_ROOT, 'node_modules/@types')],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    allowImportingTsExtensions: true,
    resolveJsonModule: true,
    baseUrl: REPO_ROOT,
    paths: entryPaths(),
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (f, lang, ...rest) => (files.has(f) ? ts.createSourceFile(f, files.get(f)!.code, lang) : getSourceFile.call(host, f, lang, ...rest));
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
  host.readFile = (f) => files.get(f)?.code ?? readFile.call(host, f);
  const program = ts.createProgram([...files.keys()], options, host);
  const errors: string[] = [];
  for (const [file, { lines }] of files) {
    const sf = program.getSourceFile(file)!;
    for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
      const line = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line;
      errors.push(`${lines[line]}: TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
    }
  }
  return errors;
}
