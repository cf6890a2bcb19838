// What the documentation shows: README.md and docs/*.md, their fenced code blocks (with the marker
// comment on the line above, if any) and the shell commands they give, fenced or inline, each with
// the doc and line it is on so a failing check can point at it.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './clip.ts';

export interface Doc {
  /** Path relative to the repository, e.g. `docs/library.md`. */
  name: string;
  text: string;
}

export interface CodeBlock {
  doc: string;
  /** 1-based line of the block's first code line (after the opening fence). */
  line: number;
  lang: string;
  code: string;
  /** The `<!-- key: value -->` comment on the line just above the opening fence, if any. */
  marker?: { key: string; value: string };
}

export interface ShellCommand {
  doc: string;
  line: number;
  /** The command as written (continuations joined, comment removed). */
  text: string;
}

export const docs = (): Doc[] =>
  ['README.md', ...readdirSync(path.join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)].map((name) => ({
    name,
    text: readFileSync(path.join(REPO_ROOT, name), 'utf8'),
  }));

const FENCE = /^(\s*)```(\S*)\s*$/;
const MARKER = /^<!--\s*([a-z-]+):\s*([\s\S]*?)\s*-->$/;

/** Every fenced block of a doc (``` fences, as all our docs use). */
export function codeBlocks(doc: Doc): CodeBlock[] {
  const lines = doc.text.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end]!)) end++;
    const m = i > 0 ? MARKER.exec(lines[i - 1]!.trim()) : null;
    blocks.push({
      doc: doc.name,
      line: i + 2,
      lang: open[2]!,
      code: lines.slice(i + 1, end).map((l) => l.slice(open[1]!.length)).join('\n') + '\n',
      ...(m ? { marker: { key: m[1]!, value: m[2]! } } : {}),
    });
    i = end;
  }
  return blocks;
}

export const isScript = (b: CodeBlock) => /^(js|ts|javascript|typescript|mjs)$/.test(b.lang);
const isShell = (b: CodeBlock) => /^(sh|bash|shell|console)$/.test(b.lang);

/** Programs whose invocations the docs give inline in `code spans` as well as in shell blocks. */
const COMMAND_START = /^(npm|npx|node|clip-edge|wrangler|node_modules\/\.bin\/\S+|python3?|deno|bun)\s/;

/**
 * The shell commands of a doc: every line of its sh/bash blocks (`\` continuations joined, `#`
 * comments dropped, `a && b` and `a; b` split), and every inline code span outside blocks that
 * starts with a program we check (`npm run build`, `clip-edge pull <id>`, …).
 */
export function shellCommands(doc: Doc): ShellCommand[] {
  const out: ShellCommand[] = [];
  const push = (line: number, text: string) => {
    for (const part of text.split(/\s(?:&&|\|\||;)\s/)) if (part.trim()) out.push({ doc: doc.name, line, text: part.trim() });
  };
  for (const b of codeBlocks(doc).filter(isShell)) {
    const lines = b.code.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const start = i;
      let text = lines[i]!;
      while (/\\\s*$/.test(text) && i + 1 < lines.length) text = text.replace(/\\\s*$/, ' ') + lines[++i]!;
      text = stripComment(text).trim();
      if (text) push(b.line + start, text.replace(/^\$\s+/, ''));
    }
  }
  const lines = doc.text.split('\n');
  let inFence = false;
  lines.forEach((l, i) => {
    if (/^\s*```/.test(l)) inFence = !inFence;
    if (inFence) return;
    for (const m of l.matchAll(/`([^`]+)`/g)) if (COMMAND_START.test(m[1]!)) push(i + 1, m[1]!);
  });
  return out;
}

/** Drops a trailing `# comment` (a `#` at the start or after a space, outside quotes). */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

/** Splits a command line into words, honouring '…' and "…" quotes (no expansion). */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:"(?:[^"\\]|\\.)*"|'[^']*'|[^\s"']+)+/g)) out.push(m[0].replace(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g, (_, d: string | undefined, s: string | undefined) => d ?? s ?? ''));
  return out;
}
