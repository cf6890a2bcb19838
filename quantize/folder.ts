// `clip-edge quantize <dir>`: a model folder's float32 towers → verified, gated variants, recorded
// in its manifest.json. The steps, each in quantize/folder/: plan.ts (which towers, the budget),
// make.ts (run the passes, stage the files), verify.ts (embed against float32, gate; ORT-format
// forms), manifest.ts (record what was written).
import path from 'node:path';
import type { ImageCodecWasm } from '../src/core/image/wasm-codec.ts';
import { readModelInfo } from '../src/core/model/info.ts';
import type { ModelSource } from '../src/core/model/source.ts';
import type { Precision, Tower } from '../src/core/precision.ts';
import { commitStaged, discardStaged } from './onnx/io.ts';
import type { PassOptions, QuantVariant } from './pipeline.ts';
import type { Gate } from './verify/gates.ts';
import { makeVariants, type MadeVariant } from './folder/make.ts';
import { updateManifest } from './folder/manifest.ts';
import { ortPlan, planTowers, toRecord, verifyBudget, type VerifyBudget } from './folder/plan.ts';
import { embedFp32, judgeVariant, loadVerifySet, ortVariant, type Judging, type OrtReport, type TowerReport } from './folder/verify.ts';

export type { VerifyBudget } from './folder/plan.ts';
export type { OrtReport, TowerReport } from './folder/verify.ts';

export interface QuantizeFolderOptions {
  variants: readonly QuantVariant[];
  /**
   * How the folder's files are read and the verification images decoded: handed in by the caller
   * (the CLI passes `fsModelSource(dir)` and `nodeImageCodecs()`), so quantize/ imports no runtime.
   */
  io: { source: ModelSource; imageCodecs: ImageCodecWasm };
  /** @defaultValue every tower the folder has in float32 */
  towers?: readonly Tower[];
  /**
   * Variants also written in ORT format (`onnx/<tower>_model_<p>.ort`), the form whose weights
   * onnxruntime-web uses in place (the Workers backend loads it when present); each is verified in
   * place against float32 with its variant's gate. A variant made in this run or already in the folder.
   * @defaultValue none
   */
  ort?: readonly Precision[];
  /** Write variants that miss their gate (with a warning) instead of failing. @defaultValue false */
  force?: boolean;
  passes?: PassOptions;
  /** @defaultValue DEFAULT_GATES */
  gates?: Readonly<Record<QuantVariant, Gate>>;
  budget?: VerifyBudget;
  /** ../shared/data; null leaves it out. @defaultValue beside the repository, when present */
  sharedDataDir?: string | null;
  /** Progress lines. @defaultValue none */
  log?: (line: string) => void;
}

export interface QuantizeFolderResult {
  reports: TowerReport[];
  ortReports: OrtReport[];
  manifestFile: string;
  verifySources: string[];
  failures: string[];
}

/**
 * Quantizes a model folder's float32 towers into the requested variants, runs every variant
 * against float32 with onnxruntime-web on real images and prompts, writes those that pass their
 * gates (temporary file + rename) and records them in manifest.json. The float32 files are only read.
 */
export async function quantizeModelFolder(dir: string, options: QuantizeFolderOptions): Promise<QuantizeFolderResult> {
  const log = options.log ?? (() => {});
  const info = await readModelInfo(options.io.source);
  const towers = planTowers(dir, info, options);
  const t0 = performance.now();
  const sources: string[] = [];
  // 1. Every variant is made and checked (and staged in a temporary file) before anything runs:
  //    a source or a pass that fails does so in seconds, and nothing is written.
  const made: MadeVariant[] = [];
  const reports: TowerReport[] = [];
  const ortReports: OrtReport[] = [];
  const failures: string[] = [];
  try {
    const fp32Files = await makeVariants(dir, info, towers, options, made, log);
    log(`made and checked ${made.length} variant files in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const budget = verifyBudget(options.budget, fp32Files.sizes.values());
    const judging: Judging = { gates: options.gates, force: !!options.force, latencyRuns: budget.latencyRuns, log };

    // 2. Verification: float32 embeddings of both towers (a tower's variants are judged with the
    //    other tower in float32), then each variant's, loaded from its staged file.
    const set = await loadVerifySet(dir, info, budget, { imageCodecs: options.io.imageCodecs, ...(options.sharedDataDir !== undefined ? { sharedDataDir: options.sharedDataDir } : {}) }, log);
    sources.push(...set.data.sources);
    const fp32 = await embedFp32(dir, info, fp32Files, set, judging);
    for (const m of made) {
      const report = await judgeVariant(dir, info, m, set, fp32, fp32Files.sizes.get(m.tower)!, judging);
      reports.push(report);
      failures.push(...report.gate.failures);
    }

    // 3. Variants that passed (or all, forced) are renamed into place; the others are removed.
    for (const [i, m] of made.entries()) {
      const report = reports[i]!;
      if (report.gate.passed || options.force) {
        await commitStaged(m.staged);
        report.written = true;
      } else await discardStaged(m.staged);
    }

    // 4. ORT-format forms, converted from the variants now in place, each loaded in place and gated:
    //    those asked for, and those the folder already has for a variant this run rewrote (an .ort
    //    converted from the old file would no longer match it, and dropping its manifest entry while
    //    the file stays would silently turn in-place loading off).
    for (const { variant, tower } of ortPlan(dir, info, towers, options.ort ?? [], reports, log)) {
      const ofRun = reports.find((r) => r.variant === variant && r.tower === tower);
      if (ofRun && !ofRun.written) continue;
      const from = ofRun?.file ?? info.variants[variant]![tower]!.file;
      const r = await ortVariant(dir, variant, tower, from, set.inputs[tower], fp32.get(tower)!, info.embedDim, judging);
      ortReports.push(r);
      failures.push(...r.gate.failures);
    }
  } catch (e) {
    await Promise.all(made.map((m) => discardStaged(m.staged)));
    throw e;
  }
  const manifestFile = path.join(dir, 'manifest.json');
  const record = toRecord(info, sources, reports.filter((r) => r.written), ortReports.filter((r) => r.written), log);
  if (record.reports.length || record.ort.length) await updateManifest(dir, info, record, sources, options.passes);
  return { reports, ortReports, manifestFile, verifySources: sources, failures };
}
