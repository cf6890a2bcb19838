// npm run workers:size — the Worker upload as wrangler measures it (`wrangler deploy --dry-run
// --outdir`): script + wasm modules, raw and gzip. Fails over Cloudflare's 10 MB (gzip) limit of
// the Paid plan, or when a model file ended up inside the upload; writes bench/results/workers-size.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const PAID_LIMIT = 10 * 1024 * 1024;
export const FREE_LIMIT = 3 * 1024 * 1024;

export interface WorkerSize {
  /** What wrangler printed: "Total Upload: … KiB / gzip: … KiB", in bytes. */
  totalBytes: number;
  gzipBytes: number;
  modules: { name: string; bytes: number; gzipBytes: number }[];
}

/** Builds the Worker exactly as `wrangler deploy` would, without uploading, and measures it. */
export function measureWorkerSize(outdir = path.join(ROOT, '.cache/workers-size')): WorkerSize {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', outdir], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' },
  });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${out}`);
  const m = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(out);
  if (!m) throw new Error(`could not find "Total Upload" in wrangler's output:\n${out}`);
  const modules = readdirSync(outdir)
    .filter((f) => !f.endsWith('.map') && f !== 'README.md')
    .map((name) => {
      const bytes = readFileSync(path.join(outdir, name));
      return { name, bytes: bytes.byteLength, gzipBytes: gzipSync(bytes, { level: 9 }).byteLength };
    })
    .sort((a, b) => b.bytes - a.bytes);
  return { totalBytes: Number(m[1]) * 1024, gzipBytes: Number(m[2]) * 1024, modules };
}

/** Problems with a measured upload: over the limit, or a model file inside it. */
export function sizeProblems(s: WorkerSize): string[] {
  const problems: string[] = [];
  if (s.gzipBytes > PAID_LIMIT) problems.push(`the Worker is ${(s.gzipBytes / 1048576).toFixed(2)} MiB gzip, over the 10 MiB limit`);
  for (const m of s.modules) if (/\.(onnx|onnx_data|bin|cepc)$/.test(m.name)) problems.push(`${m.name} is inside the upload: models and prompt caches belong in R2/KV`);
  return problems;
}

export function sizeMarkdown(s: WorkerSize): string {
  const mib = (b: number) => (b / 1048576).toFixed(2);
  const short = (n: string) => n.replace(/^[0-9a-f]{40}-/, '');
  return [
    '# clip-edge on Cloudflare Workers: upload size',
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run workers:size\` (\`wrangler deploy --dry-run --outdir\`, wrangler 4.86, minified).`,
    'Models and prompt caches are never part of the upload (R2 / KV / static assets).',
    '',
    '| module | raw MiB | gzip MiB |',
    '| --- | ---: | ---: |',
    ...s.modules.map((m) => `| ${short(m.name)} | ${mib(m.bytes)} | ${mib(m.gzipBytes)} |`),
    `| **total, as wrangler reports it** | **${mib(s.totalBytes)}** | **${mib(s.gzipBytes)}** |`,
    '',
    `Limits: 10 MiB gzip on the Workers Paid plan (${s.gzipBytes <= PAID_LIMIT ? 'fits' : '**over**'}), 3 MiB on the Free plan (${s.gzipBytes <= FREE_LIMIT ? 'fits' : 'over: ORT\'s wasm alone is above it'}).`,
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const s = measureWorkerSize();
  const md = sizeMarkdown(s);
  writeFileSync(path.join(ROOT, 'bench/results/workers-size.md'), md);
  console.log(md);
  const problems = sizeProblems(s);
  for (const p of problems) console.error(`error: ${p}`);
  process.exit(problems.length ? 1 : 0);
}
