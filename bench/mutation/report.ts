// Writes bench/results/mutation.md from Stryker's JSON report (reports/mutation/mutation.json):
// mutation score per module, and every surviving mutant with the reason it is left
// (bench/mutation/explained.json, keyed "file:line:column:mutator") or marked unexplained.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

type Status = 'Killed' | 'Survived' | 'NoCoverage' | 'Timeout' | 'CompileError' | 'RuntimeError' | 'Ignored' | 'Pending';
interface Mutant {
  mutatorName: string;
  replacement?: string;
  status: Status;
  location: { start: { line: number; column: number } };
}
interface Report {
  files: Record<string, { source: string; mutants: Mutant[] }>;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Stryker JSON reports, later ones replacing earlier ones file by file (a rerun of some modules
// after new tests); default: the last full run.
const { positionals } = parseArgs({ allowPositionals: true, options: {} });
const inputs = positionals.length ? positionals : ['reports/mutation/mutation.json'];
const report: Report = { files: {} };
for (const f of inputs) Object.assign(report.files, (JSON.parse(readFileSync(path.resolve(ROOT, f), 'utf8')) as Report).files);
const explained = JSON.parse(readFileSync(path.join(ROOT, 'bench/mutation/explained.json'), 'utf8')) as Record<string, string>;

const count = (ms: Mutant[], ...s: Status[]) => ms.filter((m) => s.includes(m.status)).length;
const score = (ms: Mutant[]) => {
  const detected = count(ms, 'Killed', 'Timeout');
  const valid = detected + count(ms, 'Survived', 'NoCoverage');
  return valid ? (100 * detected) / valid : NaN;
};

const rows: string[] = [];
const survivors: string[] = [];
let unexplained = 0;
const all: Mutant[] = [];
for (const [file, { source, mutants }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  all.push(...mutants);
  rows.push(`| \`${file}\` | ${score(mutants).toFixed(1)} % | ${count(mutants, 'Killed')} | ${count(mutants, 'Timeout')} | ${count(mutants, 'Survived')} | ${count(mutants, 'NoCoverage')} | ${count(mutants, 'CompileError', 'RuntimeError')} |`);
  const lines = source.split('\n');
  for (const m of mutants.filter((x) => x.status === 'Survived' || x.status === 'NoCoverage')) {
    const { line, column } = m.location.start;
    const key = `${file}:${line}:${column}:${m.mutatorName}`;
    const why = explained[key];
    if (!why) unexplained++;
    const code = lines[line - 1]!.trim().replaceAll('|', '\\|');
    survivors.push(`| \`${file}:${line}\` | ${m.mutatorName} → \`${(m.replacement ?? '').replaceAll('\n', ' ').replaceAll('|', '\\|').slice(0, 60)}\` | \`${code.slice(0, 80)}\` | ${why ?? '**unexplained**'} |`);
  }
}

const md = `# Mutation testing (Stryker) of the numeric core

\`npm run mutation\` (not in CI): Stryker ${'(@stryker-mutator/core + vitest runner)'} mutates the modules where a silent
numeric bug is most likely and runs the unit tests that cover each mutant
(\`bench/mutation/stryker.config.mjs\`, tests listed in \`bench/mutation/vitest.config.ts\`).
Score = (killed + timed out) / (killed + timed out + survived + no coverage); compile and runtime
errors of a mutant are not counted. HTML report: \`reports/mutation/mutation.html\` (not committed).

Figures from: ${inputs.map((f) => `\`${f}\``).join(', ')}${inputs.length > 1 ? ' (a later file replaces an earlier one module by module: a rerun of some modules with \`npx stryker run bench/mutation/stryker.config.mjs --mutate <file>\` after tests were added)' : ''}.

| module | score | killed | timed out | survived | no coverage | errors |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}
| **all** | **${score(all).toFixed(1)} %** | ${count(all, 'Killed')} | ${count(all, 'Timeout')} | ${count(all, 'Survived')} | ${count(all, 'NoCoverage')} | ${count(all, 'CompileError', 'RuntimeError')} |

## Surviving mutants (${survivors.length}, ${unexplained} unexplained)

Each is either equivalent to the original (no input can tell them apart) or a change the code's
contract does not constrain; the reason is given per mutant.

| where | mutation | original line | why it survives |
| --- | --- | --- | --- |
${survivors.join('\n')}
`;
writeFileSync(path.join(ROOT, 'bench/results/mutation.md'), md);
console.log(`bench/results/mutation.md: score ${score(all).toFixed(1)} %, ${survivors.length} survivors (${unexplained} unexplained)`);
