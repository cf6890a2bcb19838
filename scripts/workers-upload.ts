// npm run workers:upload -- [--model models/tiny-clip] [--variant auto] [--text] [--decode-budget-mb auto|48] [--in-place false]
//                            [--text-worker auto|int8|… | --no-text-worker]
//                            [--local [--persist-to DIR] | --remote] [--dry-run] [--force]
// --split (or a --config binding VISION_PARTS): the vision tower split across part Workers: its parts (.ort) go up
// instead of the whole tower, checked against bench/results/workers-memory-parts.json.
// When wrangler.toml binds the text Worker (TEXT), the text tower it loads (wrangler.text.toml's
// CLIP_EDGE_TEXT_VARIANT, auto: int8, its .ort when listed) is uploaded into the same folder.
//
// Uploads a model folder to the MODELS R2 bucket (<model id>/…) and its prompt caches to the PROMPTS
// KV namespace (<model id>/<label set>, packed), after checking that the configuration fits the
// 128 MB isolate (bench/results/workers-memory.json, measured by `npm run workers:memory`).
// Defaults come from wrangler.toml's [vars]; flags override them. Nothing is uploaded when the
// check fails, unless --force.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readModelInfo, type ModelInfo } from '../src/core/model/info.ts';
import { packPromptCache, type PromptCacheHeader } from '../src/core/prompt-cache/format.ts';
import { fsModelSource } from '../src/runtime/fs/model-source.ts';
import { WORKERS_DEFAULT_BODY_MEMORY_MB } from '../src/runtime/workers/limits.ts';
import { type BudgetInput, type MemoryTable, WORKERS_MEMORY_LIMIT, checkBudget } from './workers-budget.ts';
import { splitVariantOf, visionPartsOf } from '../src/core/vision-parts.ts';
import type { Precision } from '../src/core/precision.ts';
import { WORKERS_VARIANT_ORDER } from '../src/runtime/workers/variants.ts';
import { type DeployConfig, resolveTextVariant, resolveVisionVariant, uploadPlan } from './workers-plan.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** `[vars]`, the MODELS bucket name and the PROMPTS binding from wrangler.toml (the few lines this script needs). */
export function readWranglerToml(text: string): { vars: Record<string, string>; bucket?: string } {
  const vars: Record<string, string> = {};
  let section = '';
  let bucket: string | undefined;
  let binding: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    const header = /^\[\[?([^\]]+)\]\]?$/.exec(line);
    if (header) {
      section = header[1]!.trim();
      binding = undefined;
      continue;
    }
    const kv = /^([A-Za-z0-9_]+)\s*=\s*"([^"]*)"$/.exec(line);
    if (!kv) continue;
    if (section === 'vars') vars[kv[1]!] = kv[2]!;
    if (section === 'r2_buckets' && kv[1] === 'binding') binding = kv[2];
    if (section === 'r2_buckets' && kv[1] === 'bucket_name' && (binding === undefined || binding === 'MODELS')) bucket = kv[2];
  }
  return { vars, bucket };
}

export interface UploadOptions extends DeployConfig {
  dir: string;
  /** CLIP_EDGE_DECODE_BUDGET_MB in bytes, or `auto` (the default: what the loaded model leaves). */
  decodeBudgetBytes: number | 'auto';
  /** CLIP_EDGE_BODY_MEMORY_MB in bytes. */
  bodyMemoryBytes?: number;
}

/** The budget check for a configuration, with every other configuration of the model as alternatives. */
export function budgetFor(info: ModelInfo, table: MemoryTable | undefined, o: UploadOptions): ReturnType<typeof checkBudget> {
  const bytesOf = (vision: string, text: boolean) => {
    const v = info.variants[vision as keyof ModelInfo['variants']]?.vision?.bytes ?? 0;
    const tv = text ? resolveTextVariant(info.variants) : undefined;
    return v + (tv ? (info.variants[tv]?.text?.bytes ?? 0) : 0);
  };
  const vision = resolveVisionVariant(info.variants, o.variant);
  const inPlace = (v: string) => o.inPlace !== false && info.variants[v as keyof ModelInfo['variants']]?.vision?.ort !== undefined;
  const common = { model: o.model, decodeBudgetBytes: o.decodeBudgetBytes, ...(o.bodyMemoryBytes ? { bodyMemoryBytes: o.bodyMemoryBytes } : {}) };
  const cfg: BudgetInput = { ...common, variant: vision, text: o.text, inPlace: inPlace(vision), onnxBytes: bytesOf(vision, o.text) };
  const visions = Object.keys(info.variants).filter((p) => info.variants[p as keyof ModelInfo['variants']]?.vision);
  const others = visions
    .flatMap((v) => [false, true].map((t) => ({ v, t })))
    .filter(({ v, t }) => !(v === vision && t === o.text) && (!t || resolveTextVariant(info.variants)))
    .map(({ v, t }) => ({ ...common, variant: v, text: t, inPlace: inPlace(v), onnxBytes: bytesOf(v, t), label: `CLIP_EDGE_VARIANT=${v} CLIP_EDGE_TEXT=${t}` }));
  return checkBudget(table, cfg, others);
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** Whether a wrangler.toml binds the text Worker (`[[services]] binding = "TEXT"`): its text tower is then uploaded too. */
export const bindsTextWorker = (tomlText: string): boolean => /\[\[services\]\][^[]*?binding\s*=\s*"TEXT"/.test(tomlText);

/** The text Worker's CLIP_EDGE_TEXT_VARIANT (wrangler.text.toml beside `config`), `auto` when unset. */
function textWorkerVariant(config: string): string {
  const file = path.join(path.dirname(config), 'wrangler.text.toml');
  return (existsSync(file) && readWranglerToml(readFileSync(file, 'utf8')).vars.CLIP_EDGE_TEXT_VARIANT) || 'auto';
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      variant: { type: 'string' },
      text: { type: 'boolean' },
      'no-text': { type: 'boolean' },
      'text-worker': { type: 'string' },
      'no-text-worker': { type: 'boolean' },
      split: { type: 'boolean' },
      'decode-budget-mb': { type: 'string' },
      'in-place': { type: 'string' },
      local: { type: 'boolean' },
      remote: { type: 'boolean' },
      'persist-to': { type: 'string' },
      'dry-run': { type: 'boolean' },
      force: { type: 'boolean' },
      config: { type: 'string', default: path.join(ROOT, 'wrangler.toml') },
    },
  });
  const tomlText = readFileSync(values.config!, 'utf8');
  const toml = readWranglerToml(tomlText);
  const dir = path.resolve(values.model ?? path.join(ROOT, 'models', toml.vars.CLIP_EDGE_MODEL ?? 'tiny-clip'));
  const budgetArg = (values['decode-budget-mb'] ?? toml.vars.CLIP_EDGE_DECODE_BUDGET_MB) || 'auto';
  const opts: UploadOptions = {
    dir,
    model: path.basename(dir),
    variant: values.variant ?? toml.vars.CLIP_EDGE_VARIANT ?? 'auto',
    text: values['no-text'] ? false : (values.text ?? /^(1|true|yes|on)$/i.test(toml.vars.CLIP_EDGE_TEXT ?? 'false')),
    decodeBudgetBytes: budgetArg === 'auto' ? 'auto' : Number(budgetArg) * 1024 * 1024,
    bodyMemoryBytes: Number(toml.vars.CLIP_EDGE_BODY_MEMORY_MB || WORKERS_DEFAULT_BODY_MEMORY_MB) * 1024 * 1024,
    inPlace: !/^(0|false)$/i.test(values['in-place'] ?? toml.vars.CLIP_EDGE_IN_PLACE ?? 'true'),
    // The text Worker reads the same folder: its text tower (int8 .ort when listed) goes up too.
    ...(values['no-text-worker'] || !(values['text-worker'] || bindsTextWorker(tomlText)) ? {} : { textWorker: values['text-worker'] ?? textWorkerVariant(values.config!) }),
  };
  if (opts.decodeBudgetBytes !== 'auto' && !(opts.decodeBudgetBytes > 0)) throw new Error(`--decode-budget-mb must be auto or a positive number of MB`);
  if (!existsSync(dir)) throw new Error(`model folder ${dir} does not exist`);
  const info = await readModelInfo(fsModelSource(dir));
  const files = listFiles(dir);
  // A vision tower split across part Workers (--split, or a config binding VISION_PARTS): its parts go up instead of the whole tower.
  const split = values.split || /^binding = "VISION_PARTS"$/m.test(tomlText);
  const variant = split ? splitVariantOf(info, (opts.variant === 'auto' ? 'auto' : opts.variant) as Precision | 'auto', WORKERS_VARIANT_ORDER) : undefined;
  const plan = uploadPlan(files, info.variants, { ...opts, ...(variant ? { visionParts: visionPartsOf(info, variant) } : {}) });

  const tablePath = path.join(ROOT, 'bench/results/workers-memory.json');
  const table = existsSync(tablePath) ? (JSON.parse(readFileSync(tablePath, 'utf8')) as MemoryTable) : undefined;
  const budget = variant ? partsBudget(opts.model, variant) : budgetFor(info, table, opts);
  console.log(`${budget.ok ? 'fits' : 'DOES NOT FIT'}: ${budget.message}`);
  if (!budget.ok && !values.force) {
    console.error('refusing to upload (measure with `npm run workers:memory`, or pass --force)');
    return 1;
  }

  const work = path.join(ROOT, '.cache/workers-upload');
  mkdirSync(work, { recursive: true });
  const r2File = path.join(work, 'r2.json');
  const kvFile = path.join(work, 'kv.json');
  writeFileSync(r2File, JSON.stringify(plan.r2.map((o) => ({ key: o.key, file: path.join(dir, o.path) }))));
  const kvEntries = plan.kv.map((o) => {
    const header = JSON.parse(readFileSync(path.join(dir, o.json), 'utf8')) as PromptCacheHeader;
    const file = path.join(work, 'kv', `${o.key.replace(/\//g, '__')}.cepc`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, packPromptCache({ header, data: new Uint8Array(readFileSync(path.join(dir, o.bin))) }));
    return { key: o.key, file };
  });
  writeFileSync(kvFile, JSON.stringify(kvEntries.map((e) => ({ key: e.key, value: readFileSync(e.file).toString('base64'), base64: true }))));
  const bytes = plan.r2.reduce((s, o) => s + readFileSync(path.join(dir, o.path)).byteLength, 0);
  console.log(`plan: vision ${plan.vision}${plan.inPlace ? ' (ORT format, in place)' : ''}${plan.text ? `, text ${plan.text}` : ''}${plan.textWorker ? `, text Worker ${plan.textWorker}` : ''}; R2 ${plan.r2.length} objects (${(bytes / 1048576).toFixed(1)} MiB) under ${opts.model}/; KV ${plan.kv.length} prompt caches`);
  // Local state where `npm run dev:workers` reads it.
  const where = values.remote ? ['--remote'] : ['--local', '--persist-to', values['persist-to'] ?? path.join(ROOT, '.cache/wrangler-state')];
  const bucket = toml.bucket ?? 'clip-edge-models';
  const commands = [
    ['r2', 'bulk', 'put', bucket, '--filename', r2File, ...where],
    // wrangler 4.86's *local* `kv bulk put` turns base64 values into strings (binary is mangled): one `kv key put --path` per cache there.
    ...(values.remote
      ? [['kv', 'bulk', 'put', kvFile, '--binding', 'PROMPTS', ...where]]
      : kvEntries.map((e) => ['kv', 'key', 'put', e.key, '--path', e.file, '--binding', 'PROMPTS', ...where])),
  ];
  for (const args of commands) {
    console.log(`wrangler ${args.join(' ')}`);
    if (values['dry-run']) continue;
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), ...args, '-c', values.config!], {
      stdio: 'inherit',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    });
    if (r.status !== 0) return r.status ?? 1;
  }
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(2);
    },
  );
}

/** The part Workers' measured peaks (`npm run workers:memory -- --parts`): every part must stay within 128 MB. */
function partsBudget(model: string, variant: string): { ok: boolean; message: string } {
  const file = path.join(ROOT, 'bench/results/workers-memory-parts.json');
  const rows = existsSync(file) ? ((JSON.parse(readFileSync(file, 'utf8')) as { rows: { model: string; variant: string; part: number; run: { peakMeasured: number } }[] }).rows ?? []).filter((r) => r.model === model && r.variant === variant) : [];
  if (!rows.length) return { ok: true, message: `${model} ${variant} in parts: not measured yet (npm run workers:memory -- --parts --model <dir>); the split chose parts within its budget` };
  const worst = rows.reduce((a, r) => (r.run.peakMeasured > a.run.peakMeasured ? r : a));
  const ok = worst.run.peakMeasured <= WORKERS_MEMORY_LIMIT;
  return { ok, message: `${model} ${variant} in ${rows.length} parts: largest measured peak ${(worst.run.peakMeasured / 2 ** 20).toFixed(1)} MiB (part ${worst.part})${ok ? '' : ' is over 128 MB: split into more parts (clip-edge quantize --split --parts N)'}` };
}
