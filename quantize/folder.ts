import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ClipEdgeError } from '../src/core/errors.ts';
import { readModelInfo, type ModelInfo } from '../src/core/model/info.ts';
import { type Tower, TOWERS, onnxFileOf } from '../src/core/precision.ts';
import { createClipTokenizer } from '../src/core/tokenizer.ts';
import { fsModelSource } from '../src/runtime/node/fs-source.ts';
import { commitStaged, discardStaged, readOnnx, sha256File, stageOnnx, writeAtomic, type Staged } from './onnx/io.ts';
import { decodeModel } from './onnx/model.ts';
import { checkClipSignature, passesFor, runPasses, type PassOptions, type QuantVariant } from './pipeline.ts';
import { loadVerifyData, promptsOf, type VerifyData } from './verify/data.ts';
import { checkGate, DEFAULT_GATES, type Gate } from './verify/gates.ts';
import { classMatrices, predictions, rowCosines, top1, type CosineStats, type Top1Stats } from './verify/metrics.ts';
import { openTower, type ModelBytes, type TowerInputs } from './verify/runner.ts';

export interface VerifyBudget {
  /** Images checked (spread over the sources). @defaultValue all; 32 for towers over 50 MB */
  maxImages?: number;
  /** Templates per class. @defaultValue all; 1 for towers over 50 MB */
  maxTemplates?: number;
  /** Timed batch-1 runs per model (the median is reported). @defaultValue 20; 5 for towers over 50 MB */
  latencyRuns?: number;
}

export interface QuantizeFolderOptions {
  variants: readonly QuantVariant[];
  /** @defaultValue every tower the folder has in float32 */
  towers?: readonly Tower[];
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

export interface TowerReport {
  variant: QuantVariant;
  tower: Tower;
  file: string;
  bytes: number;
  sha256: string;
  fp32Bytes: number;
  sizeRatio: number;
  cosine: CosineStats;
  /** Zero-shot on the labelled images; the other tower float32. */
  top1?: Top1Stats;
  latency: { ms: number; fp32Ms: number; ratio: number; runs: number; batch: 1 };
  passes: { pass: string; ms: number; report: Record<string, unknown> }[];
  gate: { passed: boolean; failures: string[]; thresholds: Gate };
  written: boolean;
}

export interface QuantizeFolderResult {
  reports: TowerReport[];
  manifestFile: string;
  verifySources: string[];
  failures: string[];
}

interface Fp32Run {
  file: string;
  bytes: number;
  embeds: Float32Array;
  latencyMs: number;
}

const BIG = 50 * 2 ** 20;

/**
 * Quantizes a model folder's float32 towers into the requested variants, runs every variant
 * against float32 with onnxruntime-web on real images and prompts, writes those that pass their
 * gates (temporary file + rename) and records them in manifest.json. The float32 files are only read.
 */
export async function quantizeModelFolder(dir: string, options: QuantizeFolderOptions): Promise<QuantizeFolderResult> {
  const log = options.log ?? (() => {});
  const source = fsModelSource(dir);
  const info = await readModelInfo(source);
  const towers = options.towers ?? TOWERS.filter((t) => info.variants.fp32?.[t]);
  if (!options.variants.length) throw new ClipEdgeError('BAD_INPUT', 'no variants asked for');
  for (const t of towers) {
    if (!info.variants.fp32?.[t]) throw new ClipEdgeError('MODEL_NOT_FOUND', `${dir} has no float32 ${t} encoder (${onnxFileOf(t, 'fp32')})`);
  }
  const fp32File = (t: Tower) => path.join(dir, info.variants.fp32![t]!.file);

  // Every tower's float32 source must be a CLIP tower before anything is done.
  const fp32Sizes = new Map<Tower, number>();
  for (const t of TOWERS) {
    if (!info.variants.fp32?.[t]) continue;
    fp32Sizes.set(t, (await stat(fp32File(t))).size);
  }
  const big = Math.max(...fp32Sizes.values()) > BIG;
  const budget: Required<VerifyBudget> = {
    maxImages: options.budget?.maxImages ?? (big ? 32 : Infinity),
    maxTemplates: options.budget?.maxTemplates ?? (big ? 1 : Infinity),
    latencyRuns: options.budget?.latencyRuns ?? (big ? 5 : 20),
  };

  log(`reading the verification set (${Number.isFinite(budget.maxImages) ? `≤ ${budget.maxImages} images` : 'all images'})`);
  const data = await loadVerifyData(info.preprocess, {
    ...(Number.isFinite(budget.maxImages) ? { maxImages: budget.maxImages } : {}),
    ...(Number.isFinite(budget.maxTemplates) ? { maxTemplates: budget.maxTemplates } : {}),
    ...(options.sharedDataDir !== undefined ? { sharedDataDir: options.sharedDataDir } : {}),
  });
  const { texts, groups } = promptsOf(data.classSets);
  const inputs: Record<Tower, TowerInputs> = {
    vision: { tower: 'vision', pixels: data.images.map((i) => i.pixels), height: info.preprocess.cropHeight, width: info.preprocess.cropWidth },
    text: { tower: 'text', tokens: await tokenize(dir, info, texts) },
  };
  log(`verification set: ${data.images.length} images, ${texts.length} prompts (${data.sources.join('; ')})`);

  // Float32 embeddings of both towers (each tower's variants are judged with the other tower in float32).
  const fp32 = new Map<Tower, Fp32Run>();
  for (const t of TOWERS) {
    if (!info.variants.fp32?.[t]) continue;
    const file = fp32File(t);
    const { bytes } = await readOnnx(file);
    checkClipSignature(decodeModel(bytes, file), t, file);
    fp32.set(t, await embed({ bytes }, inputs[t], file, budget.latencyRuns, log));
  }

  const reports: TowerReport[] = [];
  const staged: { staged: Staged; report: TowerReport }[] = [];
  const failures: string[] = [];
  try {
    for (const tower of towers) {
      const file = fp32File(tower);
      const { bytes } = await readOnnx(file);
      for (const variant of options.variants) {
        const out = path.join(dir, onnxFileOf(tower, variant));
        const label = `${variant} ${tower}`;
        log(`${label}: quantizing ${path.basename(file)} → ${path.basename(out)}`);
        const model = decodeModel(bytes, file);
        const result = runPasses(model, passesFor(variant, options.passes), { where: out, tower, log: (m) => log(`${label}: ${m}`) });
        const s = await stageOnnx(out, result.model);
        staged.push({ staged: s, report: undefined as never });
        const run = await embed(modelBytesOf(s), inputs[tower], out, budget.latencyRuns, log);
        s.bytes = undefined;
        const ref = fp32.get(tower)!;
        const dim = info.embedDim;
        const cos = rowCosines(ref.embeds, run.embeds, dim);
        const stats = zeroShot(data, tower, fp32, run.embeds, groups, dim);
        const thresholds = (options.gates ?? DEFAULT_GATES)[variant];
        const fails = checkGate(label, thresholds, cos, stats);
        const report: TowerReport = {
          variant,
          tower,
          file: path.relative(dir, out).split(path.sep).join('/'),
          bytes: s.result.bytes + (s.result.externalData?.bytes ?? 0),
          sha256: s.result.sha256,
          fp32Bytes: fp32Sizes.get(tower)!,
          sizeRatio: (s.result.bytes + (s.result.externalData?.bytes ?? 0)) / fp32Sizes.get(tower)!,
          cosine: cos,
          ...(stats ? { top1: stats } : {}),
          latency: { ms: run.latencyMs, fp32Ms: ref.latencyMs, ratio: run.latencyMs / ref.latencyMs, runs: budget.latencyRuns, batch: 1 },
          passes: result.reports.map((r) => ({ pass: r.pass, ms: r.ms, report: r.report })),
          gate: { passed: !fails.length, failures: fails, thresholds },
          written: false,
        };
        staged[staged.length - 1]!.report = report;
        reports.push(report);
        failures.push(...fails);
        log(`${label}: cosine mean ${cos.mean.toFixed(5)} min ${cos.min.toFixed(5)}${stats ? `, top-1 agreement ${(stats.agreement * 100).toFixed(1)} %` : ''}, ${(report.sizeRatio).toFixed(3)}× size, ${run.latencyMs.toFixed(1)} ms vs ${ref.latencyMs.toFixed(1)} ms — ${fails.length ? `FAILED: ${fails.join('; ')}` : 'passed'}`);
      }
    }
    for (const { staged: s, report } of staged) {
      if (report.gate.passed || options.force) {
        await commitStaged(s);
        report.written = true;
      } else await discardStaged(s);
    }
  } catch (e) {
    await Promise.all(staged.map(({ staged: s }) => discardStaged(s)));
    throw e;
  }
  const manifestFile = path.join(dir, 'manifest.json');
  if (reports.some((r) => r.written)) await updateManifest(dir, info, reports.filter((r) => r.written), data.sources);
  return { reports, manifestFile, verifySources: data.sources, failures };
}

const modelBytesOf = (s: Staged): ModelBytes => ({
  bytes: s.bytes!,
  ...(s.result.externalData ? { externalData: { path: path.basename(s.result.externalData.file), data: new Uint8Array(0) } } : {}),
});

async function embed(model: ModelBytes, inputs: TowerInputs, where: string, runs: number, log: (l: string) => void): Promise<Fp32Run> {
  if (model.externalData && !model.externalData.data.byteLength) {
    model = { ...model, externalData: { path: model.externalData.path, data: new Uint8Array(await readFile(path.join(path.dirname(where), model.externalData.path))) } };
  }
  const t0 = performance.now();
  const session = await openTower(model, inputs, where);
  try {
    const embeds = await session.embed();
    const latencyMs = await session.latency(runs);
    log(`${path.basename(where)}: embedded ${inputs.tower === 'vision' ? inputs.pixels.length : inputs.tokens.batch} ${inputs.tower === 'vision' ? 'images' : 'prompts'} in ${((performance.now() - t0) / 1000).toFixed(1)} s, batch-1 latency ${latencyMs.toFixed(1)} ms`);
    return { file: where, bytes: model.bytes.byteLength, embeds, latencyMs };
  } finally {
    await session.release();
  }
}

/** Top-1 zero-shot on the labelled images: the variant's tower against the other tower in float32. */
function zeroShot(data: VerifyData, tower: Tower, fp32: Map<Tower, Fp32Run>, variantEmbeds: Float32Array, groups: Map<string, number[][]>, dim: number): Top1Stats | undefined {
  const img = fp32.get('vision');
  const txt = fp32.get('text');
  if (!img || !txt || !groups.size) return undefined;
  const classes32 = classMatrices(txt.embeds, dim, groups);
  const ref = predictions(data.images, img.embeds, classes32, dim);
  const got = tower === 'vision' ? predictions(data.images, variantEmbeds, classes32, dim) : predictions(data.images, img.embeds, classMatrices(variantEmbeds, dim, groups), dim);
  return ref.size ? top1(data.images, ref, got) : undefined;
}

async function tokenize(dir: string, info: ModelInfo, texts: string[]) {
  const read = async (f: string) => (existsSync(path.join(dir, f)) ? JSON.parse(await readFile(path.join(dir, f), 'utf8')) : undefined);
  const tok = await read('tokenizer.json');
  if (!tok) throw new ClipEdgeError('MODEL_NOT_FOUND', `${dir} has no tokenizer.json (needed to verify the text tower)`);
  return createClipTokenizer(tok, (await read('tokenizer_config.json')) ?? {}, { contextLength: info.contextLength }).encodeBatch(texts);
}

/**
 * Adds the written variants to manifest.json (`variants.<p>.<tower>` and `quantization.<p>.<tower>`),
 * keeping every other field; a folder without one gets a manifest made from what readModelInfo found.
 */
async function updateManifest(dir: string, info: ModelInfo, written: TowerReport[], sources: string[]): Promise<void> {
  const file = path.join(dir, 'manifest.json');
  const manifest: Record<string, unknown> = info.manifest ? structuredClone(info.manifest) : await manifestFrom(dir, info);
  const variants = (manifest.variants ??= {}) as Record<string, Record<string, unknown>>;
  const quantization = (manifest.quantization ??= {}) as Record<string, unknown>;
  quantization.tool = 'clip-edge quantize (quantize/)';
  quantization.verifiedOn = sources;
  quantization.latency = 'onnxruntime-web WASM, 1 thread, batch 1, median';
  for (const r of written) {
    (variants[r.variant] ??= {})[r.tower] = { file: r.file, bytes: r.bytes, sha256: r.sha256 };
    ((quantization[r.variant] ??= {}) as Record<string, unknown>)[r.tower] = {
      passes: r.passes.map((p) => ({ pass: p.pass, ...p.report })),
      sizeRatio: round(r.sizeRatio),
      cosine: { mean: round(r.cosine.mean, 6), min: round(r.cosine.min, 6), n: r.cosine.n },
      ...(r.top1 ? { top1: { agreement: round(r.top1.agreement), accuracy: round(r.top1.accuracy), fp32Accuracy: round(r.top1.fp32Accuracy), n: r.top1.n } } : {}),
      latencyMs: { variant: round(r.latency.ms, 2), fp32: round(r.latency.fp32Ms, 2), ratio: round(r.latency.ratio), runs: r.latency.runs },
      gate: { ...r.gate.thresholds, passed: r.gate.passed },
    };
  }
  await writeAtomic(file, `${JSON.stringify(manifest, null, 2)}\n`);
}

const round = (x: number, digits = 4) => Number(x.toFixed(digits));

async function manifestFrom(dir: string, info: ModelInfo): Promise<Record<string, unknown>> {
  const fp32: Record<string, unknown> = {};
  for (const t of TOWERS) {
    const entry = info.variants.fp32?.[t];
    if (!entry) continue;
    const f = path.join(dir, entry.file);
    fp32[t] = { file: entry.file, bytes: (await stat(f)).size, sha256: await sha256File(f) };
  }
  const variants: Record<string, unknown> = { fp32 };
  for (const [p, towers] of Object.entries(info.variants)) if (p !== 'fp32') variants[p] = towers;
  return {
    id: info.id,
    embedDim: info.embedDim,
    contextLength: info.contextLength,
    preprocess: info.preprocess,
    logitScale: info.logitScale,
    defaultTemplates: info.defaultTemplates,
    ...(info.license ? { license: info.license } : {}),
    variants,
  };
}
