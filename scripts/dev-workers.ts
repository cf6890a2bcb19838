// npm run dev:workers [-- wrangler dev flags, e.g. --port 8788]
// `wrangler dev --local` on a fresh clone with nothing done first: seeds the local R2 bucket and KV
// namespace from the model folder (scripts/workers-upload.ts --local) and builds the page into the
// Workers static assets (scripts/build-web.ts) when they are missing or stale, then starts wrangler.
// "Stale" = a fingerprint of what went in (model metadata and prompt caches, wrangler.toml; the
// page's sources, the model and onnxruntime-web's version) differs from the one recorded last time
// in .cache/dev-workers/. CLIP_EDGE_DEV_STATE moves wrangler's local state (default .cache/wrangler-state).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindsTextWorker, readWranglerToml } from './workers-upload.ts';
import { writeStaticPage } from './build-web.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
// wrangler 4 is pinned here (the Worker tests and this script move it together), so the "update
// available" banner each of its calls prints (seeding R2/KV takes several) is noise: hidden for all.
process.env.WRANGLER_HIDE_BANNER ??= 'true';
const STATE = path.resolve(process.env.CLIP_EDGE_DEV_STATE ?? path.join(ROOT, '.cache/wrangler-state'));
const MARKS = path.join(STATE, '..', `dev-workers-${createHash('sha256').update(STATE).digest('hex').slice(0, 8)}`);
const PUBLIC = path.join(ROOT, 'src/runtime/workers/public');

const toml = readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8');
// The text Worker (wrangler.text.toml) runs beside the vision Worker when wrangler.toml binds it (TEXT).
const TEXT_TOML = path.join(ROOT, 'wrangler.text.toml');
const configs = ['-c', 'wrangler.toml', ...(bindsTextWorker(toml) ? ['-c', 'wrangler.text.toml'] : [])];
const modelDir = path.join(ROOT, 'models', readWranglerToml(toml).vars.CLIP_EDGE_MODEL ?? 'tiny-clip');

/** sha256 over files (relative path + bytes), in a stable order. */
function fingerprint(files: string[], extra = ''): string {
  const h = createHash('sha256').update(extra);
  for (const f of [...files].sort()) h.update(path.relative(ROOT, f)).update('\0').update(readFileSync(f));
  return h.digest('hex');
}
const walk = (dir: string, keep: (f: string) => boolean = () => true): string[] =>
  existsSync(dir)
    ? readdirSync(dir).flatMap((n) => {
        const p = path.join(dir, n);
        return statSync(p).isDirectory() ? walk(p, keep) : keep(p) ? [p] : [];
      })
    : [];

/** Runs `make` when the recorded fingerprint of `name` differs from `now` (or was never recorded). */
async function ensure(name: string, now: string, present: boolean, make: () => Promise<void> | void): Promise<void> {
  const mark = path.join(MARKS, `${name}.sha256`);
  if (present && existsSync(mark) && readFileSync(mark, 'utf8') === now) {
    console.error(`dev:workers: ${name} up to date`);
    return;
  }
  console.error(`dev:workers: ${name} ${present ? 'stale' : 'missing'}, building it`);
  await make();
  mkdirSync(MARKS, { recursive: true });
  writeFileSync(mark, now);
}

const ortVersion = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules/onnxruntime-web/package.json'), 'utf8')) as { version: string }).version;
// Metadata, prompt caches and ONNX headers' hashes (in manifest.json) decide what R2/KV hold.
const seedFiles = [...walk(modelDir, (f) => !f.endsWith('.onnx')), path.join(ROOT, 'wrangler.toml'), TEXT_TOML, path.join(ROOT, 'scripts/workers-upload.ts')];
await ensure('r2-kv-seed', fingerprint(seedFiles), existsSync(path.join(STATE, 'v3')), () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/workers-upload.ts'), '--local', '--persist-to', STATE], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`workers:upload --local failed (exit ${r.status})`);
});
const pageFiles = [...walk(path.join(ROOT, 'src'), (f) => !f.startsWith(PUBLIC)), ...walk(modelDir, (f) => f.endsWith('manifest.json'))];
await ensure('page', fingerprint(pageFiles, ortVersion), existsSync(path.join(PUBLIC, 'index.html')), async () => {
  const r = await writeStaticPage({ out: PUBLIC });
  console.error(`dev:workers: wrote ${r.files} page files to ${path.relative(ROOT, PUBLIC)}${r.skipped.length ? ` (left out: ${r.skipped.join(', ')})` : ''}`);
});

const wrangler = spawn(process.execPath, [path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', ...configs, '--local', '--persist-to', STATE, ...process.argv.slice(2)], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => wrangler.kill(sig));
wrangler.on('exit', (code) => process.exit(code ?? 1));
