import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ClipEdgeError } from '../src/core/errors.ts';
import { readModelInfo, type ModelInfo } from '../src/core/model/info.ts';
import { type Manifest, parseManifest } from '../src/core/model/manifest.ts';
import { type Precision, type Tower, TOWERS, onnxFileOf, ortFileOf } from '../src/core/precision.ts';
import { createClipTokenizer } from '../src/core/tokenizer.ts';
import type { ImageCodecWasm } from '../src/core/image/wasm-codec.ts';
import type { ModelSource } from '../src/core/model/source.ts';
import { setTopLevelKeys } from './json-text.ts';
import { commitStaged, discardStaged, readOnnx, sha256File, stageOnnx, writeAtomic, type Staged } from './onnx/io.ts';
import { checkClipSignature, passesFor, runPasses, type PassOptions, type QuantVariant } from './pipeline.ts';
import { loadVerifyData, promptsOf, type VerifyData } from './verify/data.ts';
import { checkGate, DEFAULT_GATES, type Gate } from './verify/gates.ts';
import { classMatrices, predictions, rowCosines, top1, type CosineStats, type Top1Stats } from './verify/metrics.ts';
import { checkLoads, openTower, type ModelBytes, type TowerInputs } from './verify/runner.ts';
import { encodeModel, type ModelProto } from './onnx/model.ts';
import { stageOrtFormat } from './ort-format.ts';

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

/** An ORT-format (in-place) form of a variant, verified in place against float32. */
export interface OrtReport {
  variant: Precision;
  tower: Tower;
  file: string;
  /** The .onnx variant it was converted from. */
  from: string;
  bytes: number;
  sha256: string;
  cosine: CosineStats;
  latency: { ms: number; fp32Ms: number; ratio: number; runs: number; batch: 1 };
  gate: { passed: boolean; failures: string[]; thresholds: Gate };
  written: boolean;
}

export interface QuantizeFolderResult {
  reports: TowerReport[];
  ortReports: OrtReport[];
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
const LOAD_CHECK_BYTES = 64 * 2 ** 20;

/**
 * Quantizes a model folder's float32 towers into the requested variants, runs every variant
 * against float32 with onnxruntime-web on real images and prompts, writes those that pass their
 * gates (temporary file + rename) and records them in manifest.json. The float32 files are only read.
 */
export async function quantizeModelFolder(dir: string, options: QuantizeFolderOptions): Promise<QuantizeFolderResult> {
  const log = options.log ?? (() => {});
  const source = options.io.source;
  const info = await readModelInfo(source);
  const towers = options.towers ?? TOWERS.filter((t) => info.variants.fp32?.[t]);
  if (!options.variants.length && !options.ort?.length) throw new ClipEdgeError('BAD_INPUT', 'no variants asked for');
  for (const v of options.ort ?? []) {
    for (const t of options.towers ?? TOWERS.filter((x) => info.variants.fp32?.[x])) {
      if (!(options.variants as readonly string[]).includes(v) && !info.variants[v]?.[t]) {
        throw new ClipEdgeError('MODEL_NOT_FOUND', `--ort ${v}: ${dir} has no ${v} ${t} variant and this run does not make one (add it to --variants)`);
      }
    }
  }
  for (const t of towers) {
    if (!info.variants.fp32?.[t]) throw new ClipEdgeError('MODEL_NOT_FOUND', `${dir} has no float32 ${t} encoder (${onnxFileOf(t, 'fp32')})`);
  }
  const fp32File = (t: Tower) => path.join(dir, info.variants.fp32![t]!.file);

  const t0 = performance.now();
  /** float32 bytes per tower, external data included. */
  const fp32Sizes = new Map<Tower, number>();
  const sources: string[] = [];

  // 1. Every variant is made and checked (and staged in a temporary file) before anything runs:
  //    a source or a pass that fails does so in seconds, and nothing is written.
  const fp32External = new Map<Tower, string[]>();
  const made: { staged: Staged; variant: QuantVariant; tower: Tower; passes: TowerReport['passes'] }[] = [];
  const reports: TowerReport[] = [];
  const ortReports: OrtReport[] = [];
  const failures: string[] = [];
  try {
    for (const tower of TOWERS) {
      if (!info.variants.fp32?.[tower]) continue;
      const file = fp32File(tower);
      const src = await readOnnx(file);
      fp32External.set(tower, [...src.externalData.keys()]);
      fp32Sizes.set(tower, [...src.externalData.values()].reduce((a, d) => a + d.byteLength, src.bytes.byteLength));
      checkClipSignature(src.decode(), tower, file);
      if (!towers.includes(tower)) continue;
      for (const variant of options.variants) {
        const out = path.join(dir, onnxFileOf(tower, variant));
        const label = `${variant} ${tower}`;
        log(`${label}: ${path.basename(file)} → ${path.basename(out)}`);
        // Small models are also loaded in onnxruntime-web after every pass (big ones once, in verification).
        const loadCheck = fp32Sizes.get(tower)! <= LOAD_CHECK_BYTES ? (m: ModelProto, where: string) => checkLoads(encodeModel(m), where) : undefined;
        const result = await runPasses(src.decode(), passesFor(variant, options.passes), { where: out, tower, log: (m) => log(`${label}: ${m}`) }, loadCheck);
        const staged = await stageOnnx(out, result.model);
        staged.bytes = undefined;
        made.push({ staged, variant, tower, passes: result.reports.map((r) => ({ pass: r.pass, ms: r.ms, report: r.report })) });
      }
    }

    log(`made and checked ${made.length} variant files in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const big = Math.max(...fp32Sizes.values()) > BIG;
    const budget: Required<VerifyBudget> = {
      maxImages: options.budget?.maxImages ?? (big ? 32 : Infinity),
      maxTemplates: options.budget?.maxTemplates ?? (big ? 1 : Infinity),
      latencyRuns: options.budget?.latencyRuns ?? (big ? 5 : 20),
    };

    // 2. Verification: float32 embeddings of both towers (a tower's variants are judged with the
    //    other tower in float32), then each variant's, loaded from its staged file.
    log(`reading the verification set (${Number.isFinite(budget.maxImages) ? `≤ ${budget.maxImages} images` : 'all images'})`);
    const data = await loadVerifyData(info.preprocess, {
      ...(Number.isFinite(budget.maxImages) ? { maxImages: budget.maxImages } : {}),
      ...(Number.isFinite(budget.maxTemplates) ? { maxTemplates: budget.maxTemplates } : {}),
      ...(options.sharedDataDir !== undefined ? { sharedDataDir: options.sharedDataDir } : {}),
      imageCodecs: options.io.imageCodecs,
    });
    sources.push(...data.sources);
    const { texts, groups } = promptsOf(data.classSets);
    const inputs: Record<Tower, TowerInputs> = {
      vision: { tower: 'vision', pixels: data.images.map((i) => i.pixels), height: info.preprocess.cropHeight, width: info.preprocess.cropWidth },
      text: { tower: 'text', tokens: await tokenize(dir, info, texts) },
    };
    log(`verification set: ${data.images.length} images, ${texts.length} prompts (${data.sources.join('; ')})`);
    const fp32 = new Map<Tower, Fp32Run>();
    for (const t of TOWERS) {
      if (!info.variants.fp32?.[t]) continue;
      const f = fp32File(t);
      const externalData = await Promise.all((fp32External.get(t) ?? []).map(async (p) => ({ path: p, data: new Uint8Array(await readFile(path.join(path.dirname(f), p))) })));
      fp32.set(t, await embed({ bytes: new Uint8Array(await readFile(f)), ...(externalData.length ? { externalData } : {}) }, inputs[t], f, budget.latencyRuns, log));
    }
    for (const m of made) {
      const { staged: s, variant, tower } = m;
      const label = `${variant} ${tower}`;
      const run = await embed(await stagedBytes(s), inputs[tower], s.file, budget.latencyRuns, log);
      const ref = fp32.get(tower)!;
      const dim = info.embedDim;
      const cos = rowCosines(ref.embeds, run.embeds, dim);
      const stats = zeroShot(data, tower, fp32, run.embeds, groups, dim);
      const thresholds = (options.gates ?? DEFAULT_GATES)[variant];
      const fails = checkGate(label, thresholds, cos, stats);
      const bytes = s.result.bytes + (s.result.externalData?.bytes ?? 0);
      const report: TowerReport = {
        variant,
        tower,
        file: path.relative(dir, s.file).split(path.sep).join('/'),
        bytes,
        sha256: s.result.sha256,
        fp32Bytes: fp32Sizes.get(tower)!,
        sizeRatio: bytes / fp32Sizes.get(tower)!,
        cosine: cos,
        ...(stats ? { top1: stats } : {}),
        latency: { ms: run.latencyMs, fp32Ms: ref.latencyMs, ratio: run.latencyMs / ref.latencyMs, runs: budget.latencyRuns, batch: 1 },
        passes: m.passes,
        gate: { passed: !fails.length, failures: fails, thresholds },
        written: false,
      };
      reports.push(report);
      failures.push(...fails);
      log(`${label}: cosine mean ${cos.mean.toFixed(5)} min ${cos.min.toFixed(5)}${stats ? `, top-1 agreement ${(stats.agreement * 100).toFixed(1)} %` : ''}, ${report.sizeRatio.toFixed(3)}× size, ${run.latencyMs.toFixed(1)} ms vs ${ref.latencyMs.toFixed(1)} ms — ${fails.length ? `FAILED: ${fails.join('; ')}` : 'passed'}`);
    }

    // 3. Variants that passed (or all, forced) are renamed into place; the others are removed.
    for (const [i, m] of made.entries()) {
      const report = reports[i]!;
      if (report.gate.passed || options.force) {
        await commitStaged(m.staged);
        report.written = true;
      } else await discardStaged(m.staged);
    }

    // 4. ORT-format forms, converted from the variants now in place, each loaded in place and gated.
    for (const variant of options.ort ?? []) {
      for (const tower of towers) {
        const made = reports.find((r) => r.variant === variant && r.tower === tower);
        if (made && !made.written) continue;
        const from = made?.file ?? info.variants[variant]![tower]!.file;
        const r = await ortVariant(dir, variant, tower, from, inputs[tower], fp32.get(tower)!, info.embedDim, options, budget.latencyRuns, log);
        ortReports.push(r);
        failures.push(...r.gate.failures);
      }
    }
  } catch (e) {
    await Promise.all(made.map((m) => discardStaged(m.staged)));
    throw e;
  }
  const manifestFile = path.join(dir, 'manifest.json');
  if (reports.some((r) => r.written) || ortReports.some((r) => r.written)) {
    await updateManifest(dir, info, reports.filter((r) => r.written), sources, options.passes, ortReports.filter((r) => r.written));
  }
  return { reports, ortReports, manifestFile, verifySources: sources, failures };
}

/** Converts one variant to ORT format, checks it loaded in place against float32, and writes it when it passes. */
async function ortVariant(
  dir: string, variant: Precision, tower: Tower, from: string, inputs: TowerInputs, ref: Fp32Run, dim: number,
  options: QuantizeFolderOptions, runs: number, log: (l: string) => void,
): Promise<OrtReport> {
  const out = path.join(dir, ortFileOf(tower, variant));
  const label = `${variant} ${tower} (ORT format, in place)`;
  log(`${label}: ${from} → ${path.relative(dir, out)}`);
  const staged = await stageOrtFormat(path.join(dir, from), out);
  try {
    const run = await embed({ bytes: staged.bytes, inPlace: true }, inputs, out, runs, log);
    const cos = rowCosines(ref.embeds, run.embeds, dim);
    const gates = options.gates ?? DEFAULT_GATES;
    // Variants this toolchain does not make (e.g. transformers.js' q8) are held to int8's gate.
    const thresholds = (gates as Record<string, Gate>)[variant] ?? gates.int8;
    const fails = checkGate(label, thresholds, cos, undefined);
    const written = !fails.length || !!options.force;
    if (written) await commitStaged(staged);
    else await discardStaged(staged);
    log(`${label}: cosine mean ${cos.mean.toFixed(5)} min ${cos.min.toFixed(5)}, ${run.latencyMs.toFixed(1)} ms vs ${ref.latencyMs.toFixed(1)} ms — ${fails.length ? `FAILED: ${fails.join('; ')}` : 'passed'}`);
    return {
      variant, tower, from,
      file: path.relative(dir, out).split(path.sep).join('/'),
      bytes: staged.result.bytes,
      sha256: staged.result.sha256,
      cosine: cos,
      latency: { ms: run.latencyMs, fp32Ms: ref.latencyMs, ratio: run.latencyMs / ref.latencyMs, runs, batch: 1 },
      gate: { passed: !fails.length, failures: fails, thresholds },
      written,
    };
  } catch (e) {
    await discardStaged(staged);
    throw e;
  }
}

/** A staged variant's bytes (and external data), read back from its temporary files. */
async function stagedBytes(s: Staged): Promise<ModelBytes> {
  const [model, data] = s.temp.length === 2 ? [s.temp[1]!, s.temp[0]!] : [s.temp[0]!, undefined];
  return {
    bytes: new Uint8Array(await readFile(model[0])),
    ...(data ? { externalData: [{ path: path.basename(data[1]), data: new Uint8Array(await readFile(data[0])) }] } : {}),
  };
}

async function embed(model: ModelBytes, inputs: TowerInputs, where: string, runs: number, log: (l: string) => void): Promise<Fp32Run> {
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
async function updateManifest(dir: string, info: ModelInfo, written: TowerReport[], sources: string[], options: PassOptions | undefined, ort: OrtReport[]): Promise<void> {
  const file = path.join(dir, 'manifest.json');
  const manifest: Manifest = info.manifest ? (structuredClone(info.manifest) as Manifest) : await manifestFrom(dir, info);
  const variants = (manifest.variants ??= {});
  const quantization = (manifest.quantization ??= {});
  quantization.tool = 'clip-edge quantize (quantize/)';
  quantization.verifiedOn = sources;
  quantization.latency = 'onnxruntime-web WASM, 1 thread, batch 1, median';
  // The pass options, so that the variants can be regenerated byte for byte (test/quantize/tiny-clip.test.ts).
  quantization.passOptions = options ?? {};
  for (const r of written) {
    (variants[r.variant] ??= {})[r.tower] = { file: r.file, bytes: r.bytes, sha256: r.sha256 };
    ((quantization[r.variant] ??= {}) as Record<string, unknown>)[r.tower] = {
      passes: r.passes.map((p) => ({ pass: p.pass, ...p.report })),
      sizeRatio: round(r.sizeRatio),
      cosine: { mean: round(r.cosine.mean, 6), min: round(r.cosine.min, 6), n: r.cosine.n },
      ...(r.top1
        ? {
            top1: {
              agreement: round(r.top1.agreement),
              n: r.top1.n,
              fp32MarginMedian: round(r.top1.fp32MarginMedian, 6),
              accuracy: Object.fromEntries(Object.entries(r.top1.accuracy).map(([k, a]) => [k, { fp32: round(a.fp32), variant: round(a.variant), n: a.n }])),
            },
          }
        : {}),
      latencyMs: { variant: round(r.latency.ms, 2), fp32: round(r.latency.fp32Ms, 2), ratio: round(r.latency.ratio), runs: r.latency.runs },
      gate: { ...r.gate.thresholds, passed: r.gate.passed },
    };
  }
  for (const r of ort) {
    const entry = variants[r.variant]?.[r.tower] as Record<string, unknown> | undefined;
    if (!entry) throw new ClipEdgeError('INTERNAL', `${r.file}: no ${r.variant} ${r.tower} entry to attach it to`);
    entry.ort = { file: r.file, bytes: r.bytes, sha256: r.sha256 };
    const q = ((quantization[r.variant] ??= {}) as Record<string, Record<string, unknown>>);
    (q[r.tower] ??= {}).ort = {
      from: r.from,
      loadedInPlace: true,
      cosine: { mean: round(r.cosine.mean, 6), min: round(r.cosine.min, 6), n: r.cosine.n },
      latencyMs: { ort: round(r.latency.ms, 2), fp32: round(r.latency.fp32Ms, 2), ratio: round(r.latency.ratio), runs: r.latency.runs },
      gate: { ...r.gate.thresholds, passed: r.gate.passed },
    };
  }
  parseManifest(manifest, file); // what the loader and `pull` will read back must pass the same schema
  // An existing manifest keeps its text (formatting, `0.0`s) outside the two keys written here.
  const text = info.manifest ? await readFile(file, 'utf8') : `${JSON.stringify(manifest, null, 2)}\n`;
  const merged = setTopLevelKeys(text, { variants: manifest.variants, quantization: manifest.quantization });
  if (JSON.stringify(JSON.parse(merged)) !== JSON.stringify(manifest)) throw new ClipEdgeError('INTERNAL', `${file}: merging the manifest text went wrong`);
  await writeAtomic(file, merged);
}

const round = (x: number, digits = 4) => Number(x.toFixed(digits));

async function manifestFrom(dir: string, info: ModelInfo): Promise<Manifest> {
  const fp32: NonNullable<Manifest['variants']>[string] = {};
  for (const t of TOWERS) {
    const entry = info.variants.fp32?.[t];
    if (!entry) continue;
    const f = path.join(dir, entry.file);
    fp32[t] = { file: entry.file, bytes: (await stat(f)).size, sha256: await sha256File(f) };
  }
  const variants: NonNullable<Manifest['variants']> = { fp32 };
  for (const [p, towers] of Object.entries(info.variants)) if (p !== 'fp32') variants[p] = { ...towers };
  return {
    id: info.id,
    embedDim: info.embedDim,
    contextLength: info.contextLength,
    preprocess: { ...info.preprocess, mean: [...info.preprocess.mean], std: [...info.preprocess.std] } as Manifest['preprocess'],
    logitScale: info.logitScale,
    defaultTemplates: [...info.defaultTemplates],
    ...(info.license ? { license: info.license } : {}),
    variants,
  };
}
