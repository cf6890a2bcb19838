import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModelInfo } from '../../../src/core/model/info.ts';
import { fsModelSource } from '../../../src/runtime/fs/fs-source.ts';
import { type MemoryTable, WORKERS_MEMORY_LIMIT, checkBudget, memoryMarkdown } from '../../../scripts/workers-budget.ts';
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
    expect(keys).toContain(`tiny-clip/${info.variants[plan.vision]!.vision!.file}`);
    expect(keys).toEqual(expect.arrayContaining(['tiny-clip/manifest.json', 'tiny-clip/label-sets/tiny-clip-shapes.json', 'tiny-clip/prompts/cifar10.bin']));
    expect(keys.filter((k) => k.includes('text_model'))).toEqual([]);
    expect(plan.kv.map((o) => o.key)).toEqual(expect.arrayContaining(['tiny-clip/cifar10', 'tiny-clip/tiny-clip-shapes']));
    const withText = uploadPlan(files, info.variants, { model: 'tiny-clip', variant: 'auto', text: true });
    expect(withText.r2.some((o) => o.key.includes('text_model'))).toBe(true);
    expect(() => uploadPlan(files, info.variants, { model: 'tiny-clip', variant: 'uint8', text: false })).toThrow(/no uint8 vision encoder/);
  });
});

const MiB = 1024 * 1024;

describe('memory budget (128 MB per isolate)', () => {
  it('the measured table covers the bundled model and renders', () => {
    expect(table.limitBytes).toBe(WORKERS_MEMORY_LIMIT);
    expect(table.rows.some((r) => r.model === 'tiny-clip' && !r.text)).toBe(true);
    expect(memoryMarkdown(table)).toMatch(/\| tiny-clip \| fp32 \| no \|/);
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
    expect(ok.stdout).toMatch(/^fits: tiny-clip \w+ vision/m);
    expect(ok.stdout).toMatch(/wrangler r2 bulk put clip-edge-models/);
    const refused = upload('--text', '--decode-budget-mb', '100');
    expect(refused.status).toBe(1);
    expect(refused.stdout).toMatch(/DOES NOT FIT/);
    expect(refused.stderr).toMatch(/refusing to upload/);
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

