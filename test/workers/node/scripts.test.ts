import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModelInfo } from '../../../src/core/model/info.ts';
import { fsModelSource } from '../../../src/runtime/fs/model-source.ts';
import { type MemoryTable, MIN_AUTO_DECODE_BUDGET, WORKERS_MEMORY_LIMIT, checkBudget, memoryMarkdown } from '../../../scripts/workers-budget.ts';
import { WORKERS_JS_HEAP_ALLOWANCE, WORKERS_MAX_DECODE_BUDGET_MB, decodeBudgetFromModel } from '../../../src/runtime/workers/limits.ts';
import { uploadPlan } from '../../../scripts/workers-plan.ts';
import { measureWorkerSize, sizeProblems, PAID_LIMIT } from '../../../scripts/workers-size.ts';
import { readWranglerToml } from '../../../scripts/workers-upload.ts';
import { MODEL_DIR as MODEL_DIR_REL } from '../fixtures.ts';
import { REPO_ROOT } from '../../helpers/clip.ts';

const MODEL_DIR = path.join(REPO_ROOT, MODEL_DIR_REL);
const files = readdirSync(MODEL_DIR, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile())
  .map((e) => path.relative(MODEL_DIR, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
const table = JSON.parse(readFileSync(path.join(REPO_ROOT, 'bench/results/workers-memory.json'), 'utf8')) as MemoryTable;
const upload = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'scripts/workers-upload.ts', '--dry-run', ...args], { cwd: REPO_ROOT, encoding: 'utf8' });

describe('wrangler.toml', () => {
  const text = readFileSync(path.join(REPO_ROOT, 'wrangler.toml'), 'utf8');
  it('deploys the Workers entry with R2, KV, assets and vision-only defaults', () => {
    expect(text).toMatch(/^main = "src\/runtime\/workers\/worker.ts"$/m);
    expect(existsSync(path.join(REPO_ROOT, 'src/runtime/workers/worker.ts'))).toBe(true);
    expect(text).toMatch(/binding = "MODELS"/);
    expect(text).toMatch(/binding = "PROMPTS"/);
    expect(text).toMatch(/binding = "ASSETS"/);
    expect(text).toMatch(/type = "CompiledWasm"/);
    const { vars, bucket } = readWranglerToml(text);
    expect(vars).toMatchObject({ CLIP_EDGE_MODEL: 'tiny-clip', CLIP_EDGE_VARIANT: 'auto', CLIP_EDGE_TEXT: 'false' });
    expect(vars.API_KEY).toBeUndefined(); // a secret, never a var
    expect(bucket).toBe('clip-edge-models');
  });
});

describe('upload plan', () => {
  it('uploads the chosen vision variant, metadata, label sets and caches; the text tower only when enabled', async () => {
    const info = await readModelInfo(fsModelSource(MODEL_DIR));
    const plan = uploadPlan(files, info.variants, { model: 'tiny-clip', variant: 'auto', text: false });
    const keys = plan.r2.map((o) => o.key);
    const vision = info.variants[plan.vision]!.vision!;
    expect(keys).toContain(`tiny-clip/${vision.ort?.file ?? vision.file}`);
    expect(keys).toEqual(expect.arrayContaining(['tiny-clip/manifest.json', 'tiny-clip/label-sets/tiny-clip-shapes.json', 'tiny-clip/prompts/cifar10.bin']));
    expect(keys.filter((k) => k.includes('text_model'))).toEqual([]);
    expect(plan.kv.map((o) => o.key)).toEqual(expect.arrayContaining(['tiny-clip/cifar10', 'tiny-clip/tiny-clip-shapes']));
    const withText = uploadPlan(files, info.variants, { model: 'tiny-clip', variant: 'auto', text: true });
    expect(withText.r2.some((o) => o.key.includes('text_model'))).toBe(true);
    expect(() => uploadPlan(files, info.variants, { model: 'tiny-clip', variant: 'uint8', text: false })).toThrow(/no uint8 vision encoder/);
  });

  it('sends a variant\'s ORT-format form instead of its .onnx when the manifest lists one (loaded in place), unless in place is off', async () => {
    const info = await readModelInfo(fsModelSource(MODEL_DIR));
    const ort = info.variants.int8!.vision!.ort!.file;
    const plan = uploadPlan(files, info.variants, { model: 'tiny-clip', variant: 'int8', text: false });
    expect(plan.inPlace).toBe(true);
    expect(plan.r2.map((o) => o.path).filter((p) => p.startsWith('onnx/'))).toEqual([ort]);
    const copying = uploadPlan(files, info.variants, { model: 'tiny-clip', variant: 'int8', text: false, inPlace: false });
    expect(copying.inPlace).toBe(false);
    expect(copying.r2.map((o) => o.path).filter((p) => p.startsWith('onnx/'))).toEqual([info.variants.int8!.vision!.file]);
    // A variant without an ORT-format form is uploaded as .onnx.
    expect(uploadPlan(files, info.variants, { model: 'tiny-clip', variant: 'fp32', text: false }).r2.some((o) => o.path.endsWith('.ort'))).toBe(false);
  });
});

const MiB = 1024 * 1024;

describe('memory budget (128 MB per isolate)', () => {
  it('the measured table covers the bundled model and renders', () => {
    expect(table.limitBytes).toBe(WORKERS_MEMORY_LIMIT);
    expect(table.rows.some((r) => r.model === 'tiny-clip' && !r.text)).toBe(true);
    expect(memoryMarkdown(table)).toMatch(/\| tiny-clip \| fp32 \| copy \(\.onnx\) \| no \|/);
    expect(table.rows.some((r) => r.model === 'tiny-clip' && r.inPlace)).toBe(true);
  });

  it('refuses a configuration over the limit and says what would fit', () => {
    const base = { model: 'tiny-clip', variant: 'int8', onnxBytes: 8e6 };
    expect(checkBudget(table, { ...base, text: false, decodeBudgetBytes: 48 * MiB }).ok).toBe(true);
    const big = checkBudget(table, { ...base, text: false, decodeBudgetBytes: 120 * MiB }, [{ ...base, text: false, decodeBudgetBytes: 24 * MiB, label: 'with 24 MB' }]);
    expect(big.ok).toBe(false);
    expect(big.message).toMatch(/exceeds the Workers limit of 128\.0 MB.*Would fit: with 24 MB.*CLIP_EDGE_DECODE_BUDGET_MB=\d+/);
  });

  it('estimates an unmeasured variant from its file size', () => {
    const r = checkBudget(table, { model: 'tiny-clip', variant: 'uint8', text: false, decodeBudgetBytes: 16 * MiB, onnxBytes: 2.2e6 });
    expect(r.basis).toBe('estimated');
    expect(r.ok).toBe(true);
    const huge = checkBudget(table, { model: 'tiny-clip', variant: 'uint8', text: false, decodeBudgetBytes: 16 * MiB, onnxBytes: 89e6 });
    expect(huge.ok).toBe(false);
  });

  it('the upload step checks before uploading: default config passes, a decode budget that leaves no room for the model is refused', () => {
    const ok = upload();
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^fits: tiny-clip \w+ \(in place\) vision/m);
    expect(ok.stdout).toMatch(/wrangler r2 bulk put clip-edge-models/);
    const refused = upload('--text', '--decode-budget-mb', '100');
    expect(refused.status).toBe(1);
    expect(refused.stdout).toMatch(/DOES NOT FIT/);
    expect(refused.stderr).toMatch(/refusing to upload/);
  });
});

describe('the decode budget follows the model (CLIP_EDGE_DECODE_BUDGET_MB=auto)', () => {
  it('is 128 MB minus ORT\'s wasm, the JS heap allowance and the body pool, at most 48 MB and never negative', () => {
    const body = 8 * MiB;
    // ViT-B/32 int8 in place: ORT's wasm 100.4 MiB once loaded (measured in workerd).
    expect(decodeBudgetFromModel({ ortWasmBytes: 105_250_816, bodyMemoryBytes: body })).toBe(128 * MiB - 105_250_816 - WORKERS_JS_HEAP_ALLOWANCE - body);
    expect(decodeBudgetFromModel({ ortWasmBytes: 16 * MiB, bodyMemoryBytes: body })).toBe(WORKERS_MAX_DECODE_BUDGET_MB * MiB); // tiny-clip: capped
    expect(decodeBudgetFromModel({ ortWasmBytes: 194 * MiB, bodyMemoryBytes: body })).toBe(0); // the copying path: nothing left
    // Model + JS allowance + body pool + decode budget never exceed the limit.
    for (const ort of [16, 64, 100, 112, 120].map((m) => m * MiB)) {
      const d = decodeBudgetFromModel({ ortWasmBytes: ort, bodyMemoryBytes: body });
      expect(d === 0 || ort + WORKERS_JS_HEAP_ALLOWANCE + body + d <= WORKERS_MEMORY_LIMIT).toBe(true);
    }
  });

  it('the upload check passes a model that leaves room for a streamed 12 MP photo and refuses one that does not', () => {
    const rowOf = (ortWasm: number, inPlace: boolean): MemoryTable['rows'][number] => ({
      model: 'm', variant: 'int8', text: false, inPlace,
      idle: { jsHeapUsed: 3 * MiB, backing: 0 }, loaded: { jsHeapUsed: 4.5 * MiB, backing: 0, ortWasm }, requests: [],
    });
    const t: MemoryTable = { measuredAt: '', runtime: 'workerd', limitBytes: WORKERS_MEMORY_LIMIT, rows: [rowOf(105_250_816, true), rowOf(203_227_136, false)] };
    const inPlace = checkBudget(t, { model: 'm', variant: 'int8', text: false, inPlace: true, decodeBudgetBytes: 'auto', onnxBytes: 88e6 });
    expect(inPlace).toMatchObject({ ok: true, basis: 'measured' });
    expect(inPlace.message).toMatch(/in place.*decode budget 11\.6 MB/);
    const copying = checkBudget(t, { model: 'm', variant: 'int8', text: false, inPlace: false, decodeBudgetBytes: 'auto', onnxBytes: 88e6 });
    expect(copying.ok).toBe(false);
    expect(copying.message).toMatch(new RegExp(`decode budget of 0\\.0 MB, under the ${(MIN_AUTO_DECODE_BUDGET / MiB).toFixed(1)} MB.*clip-edge quantize --ort`));
  });
});

describe('Worker upload size', () => {
  it('script + wasm ≤ 10 MB gzip as wrangler measures it, and no model inside', () => {
    const s = measureWorkerSize();
    expect(s.gzipBytes).toBeLessThanOrEqual(PAID_LIMIT);
    expect(sizeProblems(s)).toEqual([]);
    expect(s.modules.map((m) => m.name).some((n) => n.endsWith('ort-wasm-simd-threaded.wasm'))).toBe(true);
  });
});

