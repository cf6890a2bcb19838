// Verifying a folder's variants against float32 with onnxruntime-web on real images and prompts,
// and gating each: cosines of the embeddings, zero-shot top-1 agreement (the other tower float32),
// batch-1 latency. ORT-format forms are converted here too, loaded in place and gated the same way.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ClipEdgeError } from '../../src/core/errors.ts';
import type { ImageCodecWasm } from '../../src/core/image/wasm-codec.ts';
import type { ModelInfo } from '../../src/core/model/info.ts';
import { type Precision, type Tower, TOWERS, ortFileOf } from '../../src/core/precision.ts';
import { createClipTokenizer } from '../../src/core/tokenizer.ts';
import { commitStaged, discardStaged, type Staged } from '../onnx/io.ts';
import { stageOrtFormat } from '../ort-format.ts';
import type { QuantVariant } from '../pipeline.ts';
import { loadVerifyData, promptsOf, type VerifyData } from '../verify/data.ts';
import { checkGate, DEFAULT_GATES, type Gate } from '../verify/gates.ts';
import { classMatrices, predictions, rowCosines, top1, type CosineStats, type Top1Stats } from '../verify/metrics.ts';
import { openTower, type ModelBytes, type TowerInputs } from '../verify/runner.ts';
import type { Fp32Files, MadeVariant } from './make.ts';
import { fp32FileOf, type VerifyBudget } from './plan.ts';

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

/** One model's embeddings of the verification set and its batch-1 latency. */
export interface EmbedRun {
  file: string;
  bytes: number;
  embeds: Float32Array;
  latencyMs: number;
}

/** The verification set, as each tower's inputs. */
export interface VerifySet {
  data: VerifyData;
  inputs: Record<Tower, TowerInputs>;
  /** Prompt rows per class, per class set. */
  groups: Map<string, number[][]>;
}

/** How variants are judged: the gates, whether failures are written anyway, timed runs per model. */
export interface Judging {
  gates: Readonly<Record<QuantVariant, Gate>> | undefined;
  force: boolean;
  latencyRuns: number;
  log: (line: string) => void;
}

/** Reads the verification images and prompts (within the budget) and tokenizes the prompts. */
export async function loadVerifySet(
  dir: string,
  info: ModelInfo,
  budget: Required<VerifyBudget>,
  io: { imageCodecs: ImageCodecWasm; sharedDataDir?: string | null },
  log: (line: string) => void,
): Promise<VerifySet> {
  log(`reading the verification set (${Number.isFinite(budget.maxImages) ? `≤ ${budget.maxImages} images` : 'all images'})`);
  const data = await loadVerifyData(info.preprocess, {
    ...(Number.isFinite(budget.maxImages) ? { maxImages: budget.maxImages } : {}),
    ...(Number.isFinite(budget.maxTemplates) ? { maxTemplates: budget.maxTemplates } : {}),
    ...(io.sharedDataDir !== undefined ? { sharedDataDir: io.sharedDataDir } : {}),
    imageCodecs: io.imageCodecs,
  });
  const { texts, groups } = promptsOf(data.classSets);
  const inputs: Record<Tower, TowerInputs> = {
    vision: { tower: 'vision', pixels: data.images.map((i) => i.pixels), height: info.preprocess.cropHeight, width: info.preprocess.cropWidth },
    text: { tower: 'text', tokens: await tokenize(dir, info, texts) },
  };
  log(`verification set: ${data.images.length} images, ${texts.length} prompts (${data.sources.join('; ')})`);
  return { data, inputs, groups };
}

/** Every float32 tower of the folder run on the verification set: the reference of every variant. */
export async function embedFp32(dir: string, info: ModelInfo, files: Fp32Files, set: VerifySet, j: Judging): Promise<Map<Tower, EmbedRun>> {
  const fp32 = new Map<Tower, EmbedRun>();
  for (const t of TOWERS) {
    if (!info.variants.fp32?.[t]) continue;
    const f = fp32FileOf(dir, info, t);
    const externalData = await Promise.all((files.external.get(t) ?? []).map(async (p) => ({ path: p, data: new Uint8Array(await readFile(path.join(path.dirname(f), p))) })));
    fp32.set(t, await embed({ bytes: new Uint8Array(await readFile(f)), ...(externalData.length ? { externalData } : {}) }, set.inputs[t], f, j.latencyRuns, j.log));
  }
  return fp32;
}

/** Runs one staged variant on the verification set and gates it against float32 (not yet written). */
export async function judgeVariant(dir: string, info: ModelInfo, m: MadeVariant, set: VerifySet, fp32: Map<Tower, EmbedRun>, fp32Bytes: number, j: Judging): Promise<TowerReport> {
  const { staged: s, variant, tower } = m;
  const label = `${variant} ${tower}`;
  const run = await embed(await stagedBytes(s), set.inputs[tower], s.file, j.latencyRuns, j.log);
  const ref = fp32.get(tower)!;
  const dim = info.embedDim;
  const cos = rowCosines(ref.embeds, run.embeds, dim);
  const stats = zeroShot(set.data, tower, fp32, run.embeds, set.groups, dim);
  const thresholds = (j.gates ?? DEFAULT_GATES)[variant];
  const fails = checkGate(label, thresholds, cos, stats);
  const bytes = s.result.bytes + (s.result.externalData?.bytes ?? 0);
  const report: TowerReport = {
    variant,
    tower,
    file: path.relative(dir, s.file).split(path.sep).join('/'),
    bytes,
    sha256: s.result.sha256,
    fp32Bytes,
    sizeRatio: bytes / fp32Bytes,
    cosine: cos,
    ...(stats ? { top1: stats } : {}),
    latency: { ms: run.latencyMs, fp32Ms: ref.latencyMs, ratio: run.latencyMs / ref.latencyMs, runs: j.latencyRuns, batch: 1 },
    passes: m.passes,
    gate: { passed: !fails.length, failures: fails, thresholds },
    written: false,
  };
  j.log(`${label}: cosine mean ${cos.mean.toFixed(5)} min ${cos.min.toFixed(5)}${stats ? `, top-1 agreement ${(stats.agreement * 100).toFixed(1)} %` : ''}, ${report.sizeRatio.toFixed(3)}× size, ${run.latencyMs.toFixed(1)} ms vs ${ref.latencyMs.toFixed(1)} ms — ${fails.length ? `FAILED: ${fails.join('; ')}` : 'passed'}`);
  return report;
}

/** Converts one variant to ORT format, checks it loaded in place against float32, and writes it when it passes. */
export async function ortVariant(dir: string, variant: Precision, tower: Tower, from: string, inputs: TowerInputs, ref: EmbedRun, dim: number, j: Judging): Promise<OrtReport> {
  const out = path.join(dir, ortFileOf(tower, variant));
  const label = `${variant} ${tower} (ORT format, in place)`;
  j.log(`${label}: ${from} → ${path.relative(dir, out)}`);
  const staged = await stageOrtFormat(path.join(dir, from), out);
  try {
    const run = await embed({ bytes: staged.bytes, inPlace: true }, inputs, out, j.latencyRuns, j.log);
    const cos = rowCosines(ref.embeds, run.embeds, dim);
    const gates = j.gates ?? DEFAULT_GATES;
    // Variants this toolchain does not make (e.g. transformers.js' q8) are held to int8's gate.
    const thresholds = (gates as Record<string, Gate>)[variant] ?? gates.int8;
    const fails = checkGate(label, thresholds, cos, undefined);
    const written = !fails.length || j.force;
    if (written) await commitStaged(staged);
    else await discardStaged(staged);
    j.log(`${label}: cosine mean ${cos.mean.toFixed(5)} min ${cos.min.toFixed(5)}, ${run.latencyMs.toFixed(1)} ms vs ${ref.latencyMs.toFixed(1)} ms — ${fails.length ? `FAILED: ${fails.join('; ')}` : 'passed'}`);
    return {
      variant, tower, from,
      file: path.relative(dir, out).split(path.sep).join('/'),
      bytes: staged.result.bytes,
      sha256: staged.result.sha256,
      cosine: cos,
      latency: { ms: run.latencyMs, fp32Ms: ref.latencyMs, ratio: run.latencyMs / ref.latencyMs, runs: j.latencyRuns, batch: 1 },
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

async function embed(model: ModelBytes, inputs: TowerInputs, where: string, runs: number, log: (l: string) => void): Promise<EmbedRun> {
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
function zeroShot(data: VerifyData, tower: Tower, fp32: Map<Tower, EmbedRun>, variantEmbeds: Float32Array, groups: Map<string, number[][]>, dim: number): Top1Stats | undefined {
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
