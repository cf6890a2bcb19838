// npm run dev:workers [-- wrangler dev flags, e.g. --port 8788]
// npm run dev:workers -- --split models/<id> [wrangler flags]: the vision tower split across part Workers
// (`clip-edge quantize <dir> --split int8`): the vision Worker and every part Worker, configs written by
// scripts/workers-split-config.ts into .cache/dev-workers-split/<id>/, the parts seeded into local R2.
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
import { splitConfigs } from './workers-split-config.ts';
import { readModelInfo } from '../src/core/model/info.ts';
import { splitVariantOf, visionPartsOf } from '../src/core/vision-parts.ts';
import { fsModelSource } from '../src/runtime/fs/model-source.ts';
import { WORKERS_VARIANT_ORDER } from '../src/runtime/workers/variants.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
// wrangler 4 is pinned here (the Worker tests and this script move it together), so the "update
// available" banner each of its calls prints (seeding R2/KV takes several) is noise: hidden for all.
process.env.WRANGLER_HIDE_BANNER ??= 'true';
const STATE = path.resolve(process.env.CLIP_EDGE_DEV_STATE ?? path.join(ROOT, '.cache/wrangler-state'));
const MARKS = path.join(STATE, '..', `dev-workers-${createHash('sha256').update(STATE).digest('hex').slice(0, 8)}`);
const PUBLIC = path.join(ROOT, 'src/runtime/workers/public');

// `--split <model dir>`: the vision Worker bound to a chain of part Workers, one per part of the folder's split tower.
const splitAt = process.argv.indexOf('--split');
const splitDir = splitAt > 1 ? path.resolve(process.argv[splitAt + 1] ?? '') : undefined;
const wranglerArgs = splitAt > 1 ? process.argv.slice(2).filter((_, i) => i + 2 !== splitAt && i + 2 !== splitAt + 1) : process.argv.slice(2);
const VISION_TOML = splitDir ? await writeSplitConfigs(splitDir) : path.join(ROOT, 'wrangler.toml');
const toml = readFileSync(VISION_TOML, 'utf8');
// The text Worker (wrangler.text.toml) runs beside the vision Worker when wrangler.toml binds it (TEXT).
const TEXT_TOML = path.join(ROOT, 'wrangler.text.toml');
const partConfigs = splitDir ? readdirSync(path.dirname(VISION_TOML)).filter((f) => /^wrangler\.vision-part-\d+\.toml$/.test(f)).map((f) => path.join(path.dirname(VISION_TOML), f)) : [];
const configs = ['-c', VISION_TOML, ...(bindsTextWorker(toml) ? ['-c', 'wrangler.text.toml'] : []), ...partConfigs.flatMap((f) => ['-c', f])];
const modelDir = splitDir ?? path.join(ROOT, 'models', readWranglerToml(toml).vars.CLIP_EDGE_MODEL ?? 'tiny-clip');

/** The split deployment's configs (scripts/workers-split-config.ts) under .cache/dev-workers-split/<id>/; returns the vision Worker's. */
async function writeSplitConfigs(dir: string): Promise<string> {
  const info = await readModelInfo(fsModelSource(dir));
  const parts = visionPartsOf(info, splitVariantOf(info, 'auto', WORKERS_VARIANT_ORDER)).length;
  const out = path.join(ROOT, '.cache/dev-workers-split', path.basename(dir));
  mkdirSync(out, { recursive: true });
  const rel = (p: string) => path.relative(out, path.join(ROOT, p)).split(path.sep).join('/');
  const c = splitConfigs({ visionToml: readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8'), partToml: readFileSync(path.join(ROOT, 'wrangler.vision-part.toml'), 'utf8'), model: path.basename(dir), parts, rel });
  c.parts.forEach((t, i) => writeFileSync(path.join(out, `wrangler.vision-part-${i + 1}.toml`), t));
  writeFileSync(path.join(out, 'wrangler.toml'), c.vision);
  console.error(`dev:workers: ${path.basename(dir)} split in ${parts} parts: the vision Worker and ${parts} part Workers (configs in ${path.relative(ROOT, out)})`);
  return path.join(out, 'wrangler.toml');
}

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
const seedFiles = [...walk(modelDir, (f) => !f.endsWith('.onnx') && !f.endsWith('.ort')), VISION_TOML, TEXT_TOML, path.join(ROOT, 'scripts/workers-upload.ts')];
await ensure('r2-kv-seed', fingerprint(seedFiles), existsSync(path.join(STATE, 'v3')), () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/workers-upload.ts'), '--local', '--persist-to', STATE, ...(splitDir ? ['--model', splitDir, '--config', VISION_TOML] : [])], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`workers:upload --local failed (exit ${r.status})`);
});
const pageFiles = [...walk(path.join(ROOT, 'src'), (f) => !f.startsWith(PUBLIC)), ...walk(modelDir, (f) => f.endsWith('manifest.json'))];
await ensure('page', fingerprint(pageFiles, ortVersion), existsSync(path.join(PUBLIC, 'index.html')), async () => {
  const r = await writeStaticPage({ out: PUBLIC });
  console.error(`dev:workers: wrote ${r.files} page files to ${path.relative(ROOT, PUBLIC)}${r.skipped.length ? ` (left out: ${r.skipped.join(', ')})` : ''}`);
});

const wrangler = spawn(process.execPath, [path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', ...configs, '--local', '--persist-to', STATE, ...wranglerArgs], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => wrangler.kill(sig));
wrangler.on('exit', (code) => process.exit(code ?? 1));
