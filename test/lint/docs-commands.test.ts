// Every command README.md and docs/*.md give (sh/bash blocks, and inline `code` that starts with npm,
// npx, node, clip-edge, wrangler, deno, bun or python) names things that exist:
//   npm run <script> / npm start / npm test        a script of package.json; flags after `--` to a
//                                                 script that parses them with node:util parseArgs
//                                                 are options it declares;
//   clip-edge <sub> [--flags], npx clip-edge …,   a subcommand the CLI lists and only flags its
//   node bin/clip-edge.js …, npm run clip-edge -- … `--help` prints (the CLI's own help, rendered
//                                                 from its command tree; not copied here);
//   npx <tool> / node_modules/.bin/<tool>          an installed tool (unless pinned, `wrangler@latest`);
//   any repository path (src/…, test/…, examples/…) a file or folder that exists (outputs excepted).
// Each failure names the doc, the line and the command.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { renderUsage, type ArgsDef, type CommandDef } from 'citty';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { REPO_ROOT } from '../helpers/clip.ts';
import { docs, shellCommands, words, type ShellCommand } from '../helpers/doc-blocks.ts';

const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
/** npm's own commands the docs use (not scripts). */
const NPM_BUILTINS = new Set(['ci', 'i', 'install', 'pack', 'publish', 'help', 'exec', 'view', 'install-scripts']);
/** Flags whose value is a path the command creates, so it need not exist yet. */
const OUTPUT_FLAGS = new Set(['--out', '--outdir', '--cache-dir', '--db', '--persist-to']);
/** Flags whose value is a configuration file the command reads (`wrangler -c wrangler.toml`). */
const CONFIG_FLAGS = new Set(['-c', '--config']);
/** Top-level folders of the repository whose paths a doc may name (models/ is excluded: docs build into it). */
const REPO_DIRS = readdirSync(REPO_ROOT).filter((d) => !/^(\.|node_modules$|dist$|models$|coverage$)/.test(d) && statSync(path.join(REPO_ROOT, d)).isDirectory());

/** A command of the CLI: its flags, or its own subcommands. */
interface CliCommand {
  flags: Set<string>;
  sub?: Map<string, CliCommand>;
}
let cli: CliCommand;

type Command = CommandDef<ArgsDef>;
/** Reads one help screen (citty's renderUsage: what `clip-edge … --help` prints): `USAGE clip-edge a|b|c` lists subcommands; OPTIONS lines list flags. */
async function help(cmd: Command, parent?: Command): Promise<CliCommand> {
  // Without colour codes, should a terminal have forced them on.
  const text = (await renderUsage(cmd, parent)).replace(/\x1b\[[0-9;]*m/g, '');
  const flags = new Set<string>(['--help']);
  const options = /^OPTIONS\n\n((?:.+\n?)*)/m.exec(text)?.[1] ?? '';
  for (const line of options.split('\n')) for (const f of (line.trim().split(/\s{2,}/)[0] ?? '').matchAll(/(?:^|[\s,])(--?[a-z][\w-]*)/g)) flags.add(f[1]!);
  const usage = /^USAGE \S+(?: \S+)*? ([\w-]+(?:\|[\w-]+)+)\s*$/m.exec(text);
  if (!usage) return { flags };
  const subs = (await resolve(cmd.subCommands)) ?? {};
  const names = usage[1]!.split('|');
  const defs = await Promise.all(names.map(async (n) => help((await resolve(subs[n] as Resolvable<Command>))!, cmd)));
  return { flags, sub: new Map(names.map((n, i) => [n, defs[i]!])) };
}
type Resolvable<T> = T | Promise<T> | (() => T | Promise<T>);
const resolve = async <T>(v: Resolvable<T> | undefined): Promise<T | undefined> => (typeof v === 'function' ? (v as () => T | Promise<T>)() : v);

beforeAll(async () => {
  cli = await help(main as Command);
}, 120_000);

const isPlaceholder = (w: string) => /[<>…]|^(URL|DIR|FILE)$/.test(w);
/** Optional parts are written `[--port 8787]`: the brackets are not part of the words. */
const unbracket = (w: string) => w.replace(/^\[+/, '').replace(/\]+$/, '');

/** What is wrong with one documented command ([] when nothing). */
function problems(cmd: ShellCommand): string[] {
  let w = words(cmd.text).map(unbracket).filter(Boolean);
  while (w[0] && /^[A-Z_][A-Z0-9_]*=/.test(w[0])) w = w.slice(1); // FOO=bar cmd …
  const out: string[] = [...pathProblems(w)];
  const [prog, ...rest] = w;
  if (prog === 'npm') out.push(...npmProblems(rest));
  else if (prog === 'clip-edge') out.push(...cliProblems(rest));
  else if (prog === 'node' && rest[0] === 'bin/clip-edge.js') out.push(...cliProblems(rest.slice(1)));
  else if (prog === 'npx') out.push(...npxProblems(rest));
  else if (prog?.startsWith('node_modules/.bin/') && !existsSync(path.join(REPO_ROOT, prog))) out.push(`${prog} is not installed`);
  return out.map((p) => `${cmd.doc}:${cmd.line}: \`${cmd.text}\`: ${p}`);
}

function npmProblems([verb, script, ...rest]: string[]): string[] {
  if (verb === 'start' || verb === 'test') return pkg.scripts[verb] ? [] : [`package.json has no "${verb}" script`];
  if (verb !== 'run' && verb !== 'run-script') return verb && NPM_BUILTINS.has(verb) ? [] : [`"npm ${verb}" is neither an npm command the docs may use nor a script`];
  if (!script || !pkg.scripts[script]) return [`package.json has no script "${script}" (scripts: ${Object.keys(pkg.scripts).join(', ')})`];
  const args = rest[0] === '--' ? rest.slice(1) : [];
  if (script === 'clip-edge') return cliProblems(args);
  const declared = scriptOptions(pkg.scripts[script]);
  if (!declared) return [];
  return flagsOf(args).filter((f) => !declared.has(f)).map((f) => `npm run ${script} takes no ${f} (its parseArgs options: ${[...declared].join(' ')})`);
}

/** The options a `node --import tsx <file>` script declares to node:util parseArgs (strict: others throw). */
function scriptOptions(script: string): Set<string> | undefined {
  const file = /^node (?:--\S+ )*--import tsx (\S+\.ts)$/.exec(script)?.[1];
  if (!file) return undefined;
  const src = readFileSync(path.join(REPO_ROOT, file), 'utf8');
  const at = src.search(/parseArgs\(\{[\s\S]*?options:\s*\{/);
  if (at < 0) return undefined;
  let i = src.indexOf('{', src.indexOf('options:', at));
  const start = i;
  for (let depth = 0; i < src.length; i++) {
    if (src[i] === '{') depth++;
    else if (src[i] === '}' && --depth === 0) break;
  }
  const body = src.slice(start + 1, i).replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/.*$/gm, '$1'); // options may carry doc comments
  return new Set([...body.matchAll(/(?:^|[{,])\s*'?([\w-]+)'?\s*:\s*\{\s*type/g)].map((m) => `--${m[1]}`));
}

function cliProblems(args: string[]): string[] {
  let cmd = cli;
  let name = 'clip-edge';
  let i = 0;
  while (cmd.sub) {
    const sub = args[i];
    if (sub === undefined || sub === '--help') return [];
    if (isPlaceholder(sub)) return [];
    const next = cmd.sub.get(sub);
    if (!next) return [`${name} has no subcommand "${sub}" (it has ${[...cmd.sub.keys()].join(', ')})`];
    cmd = next;
    name = `${name} ${sub}`;
    i++;
  }
  return flagsOf(args.slice(i)).filter((f) => !cmd.flags.has(f)).map((f) => `${name} takes no ${f} (its --help lists ${[...cmd.flags].join(' ')})`);
}

function npxProblems([tool, ...rest]: string[]): string[] {
  if (!tool) return ['npx of nothing'];
  if (tool === 'clip-edge') return cliProblems(rest);
  if (tool.includes('@', 1)) return []; // pinned: npx fetches that version
  if (!existsSync(path.join(REPO_ROOT, 'node_modules/.bin', tool))) return [`npx ${tool}: not installed in node_modules/.bin (npx would download it)`];
  return [];
}

/** Flag names (`--x`, `--x=v` → `--x`), up to a `--` that ends them. */
function flagsOf(args: string[]): string[] {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).filter((a) => /^--?[a-z]/i.test(a)).map((a) => a.split('=')[0]!);
}

/** Repository paths the command reads (`test/…`, `@test/…` for curl, `--x=src/…`) must exist. */
function pathProblems(w: string[]): string[] {
  const out: string[] = [];
  w.forEach((word, i) => {
    if (OUTPUT_FLAGS.has(w[i - 1] ?? '') || isPlaceholder(word)) return;
    const p = word.replace(/^@/, '').replace(/^--[\w-]+=/, '').replace(/^\.\//, '');
    const config = CONFIG_FLAGS.has(w[i - 1] ?? '') || /^--config=/.test(word); // wrangler -c, vitest -c: read from the repository root
    if (!config && (!REPO_DIRS.includes(p.split('/')[0]!) || !p.includes('/'))) return;
    if (!existsSync(path.join(REPO_ROOT, p))) out.push(`${p} does not exist in the repository`);
  });
  return out;
}

describe('the shell commands in README.md and docs/*.md', () => {
  it('the CLI lists its subcommands and their flags in --help (what the checks below compare with)', () => {
    expect([...cli.sub!.keys()]).toEqual(expect.arrayContaining(['serve', 'classify', 'embed', 'pull', 'prompts', 'quantize', 'index', 'search']));
    expect([...cli.sub!.get('classify')!.flags]).toEqual(expect.arrayContaining(['--labels', '--label-set', '--top-k', '--json', '--model']));
    expect([...cli.sub!.get('prompts')!.sub!.keys()]).toEqual(['build', 'list']);
  });

  it('a wrong command is reported with its doc, line and reason', () => {
    const at = (text: string) => problems({ doc: 'x.md', line: 3, text });
    expect(at('npx clip-edge classify a.jpg --labels a,b --no-such-flag')).toEqual([expect.stringMatching(/^x\.md:3: `npx clip-edge classify .*`: clip-edge classify takes no --no-such-flag/)]);
    expect(at('clip-edge embed picture a.jpg')[0]).toMatch(/clip-edge embed has no subcommand "picture"/);
    expect(at('npm run no-such-script')[0]).toMatch(/no script "no-such-script"/);
    expect(at('npm run bench -- --no-such-option 1')[0]).toMatch(/npm run bench takes no --no-such-option/);
    expect(at('npx vitest run test/core/no-such.test.ts')[0]).toMatch(/test\/core\/no-such\.test\.ts does not exist/);
    expect(at('npx wrangler dev -c wrangler.no-such.toml')[0]).toMatch(/wrangler\.no-such\.toml does not exist/);
    expect(at('npx vitest run -c test/workers/vitest.config.ts test/workers/')).toEqual([]);
    expect(at('npx clip-edge serve --port 8787 [--no-text]')).toEqual([]);
  });

  const all = docs().flatMap(shellCommands);
  it('are found (fenced and inline)', () => {
    expect(all.length).toBeGreaterThan(50);
  });

  it.each(docs().map((d) => [d.name] as const))('%s: every command names a real script, subcommand, flag, tool and path', (name) => {
    const found = all.filter((c) => c.doc === name).flatMap(problems);
    expect(found, found.join('\n')).toEqual([]);
  });
});
