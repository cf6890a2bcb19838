// `clip-edge quantize <dir> --split int8`: a variant's vision tower cut into consecutive parts at
// block boundaries, one Worker each (docs/workers.md "A tower split across Workers"). Steps: find
// the cut points (cuts.ts), cut (extract.ts), write each part as .onnx and in-place .ort, run the
// chain against the whole tower in onnxruntime-web (verify.ts), record the parts in manifest.json.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { ClipEdgeError } from '../../src/core/errors.ts';
import { readModelInfo } from '../../src/core/model/info.ts';
import { parseManifest, type Manifest, type ManifestVisionParts } from '../../src/core/model/manifest.ts';
import type { ModelSource } from '../../src/core/model/source.ts';
import type { Precision } from '../../src/core/precision.ts';
import { Graph } from '../graph/graph.ts';
import { setTopLevelKeys } from '../json-text.ts';
import { commitStaged, discardStaged, readOnnx, stageOnnx, writeAtomic, type Staged } from '../onnx/io.ts';
import { stageOrtFormat } from '../ort-format.ts';
import { chooseCuts, findCuts, totalWeightBytes, type Cut } from './cuts.ts';
import { extractParts, type TowerPart } from './extract.ts';
import { checkChain, type ChainCheck } from './verify.ts';

const MiB = 1024 * 1024;

/**
 * What one part's Worker holds besides its weights, in MiB: ORT's wasm start-up heap (16 measured
 * in workerd), the JS heap (8: the Workers adapter's allowance) and batch-1 activations (16: ViT-L/14's
 * largest intermediate tensors are 4 MiB; ORT's arena holds a few of them).
 */
export const PART_OVERHEAD_MIB = Object.freeze({ ortBase: 16, jsHeap: 8, activations: 16 });

export interface SplitOptions {
  /** The variant whose vision tower is cut (its `.onnx` must be in the folder). @defaultValue 'int8' */
  variant?: Precision;
  /** Number of parts. @defaultValue the fewest whose weights fit `budgetMiB` */
  parts?: number;
  /**
   * Memory one part's Worker may use, in MiB: its weights (used in place from the `.ort`) plus
   * {@link PART_OVERHEAD_MIB}. 116 MiB leaves ~6 MiB under Cloudflare's 128 MB (122 MiB) per isolate.
   * @defaultValue 116
   */
  budgetMiB?: number;
  /** Activations allowance per part in MiB (replaces PART_OVERHEAD_MIB.activations). @defaultValue 16 */
  activationMiB?: number;
  /**
   * Tensors to cut at first (names of single-tensor cut points, e.g. inside a CNN's stem, where a
   * part's cost is its activations, not its weights); the tower after the last of them is split by
   * weight as usual, into `parts` minus these. @defaultValue none
   */
  cutAt?: string[];
  /** Reads the folder's metadata (the CLI passes `fsModelSource(dir)`). */
  io: { source: ModelSource };
  /** Record the parts even when the chain misses cosine 0.99999 against the whole tower. @defaultValue false */
  force?: boolean;
  /** Progress lines. @defaultValue none */
  log?: (line: string) => void;
}

export interface SplitPartReport {
  file: string;
  bytes: number;
  sha256: string;
  ort: { file: string; bytes: number; sha256: string };
  input: string;
  output: string;
  weightBytes: number;
  blocks?: string;
}

export interface SplitResult {
  variant: Precision;
  parts: SplitPartReport[];
  check: ChainCheck;
  /** The estimated memory of the largest part's Worker (weights + overhead), MiB. */
  largestPartMiB: number;
}

/** The gate: the chain's output must equal the whole tower's to this cosine. */
export const SPLIT_COSINE_MIN = 0.99999;

const partFile = (file: string, k: number, n: number, ext: 'onnx' | 'ort') => file.replace(/\.onnx$/, `.part${k + 1}of${n}.${ext}`);

/** The cuts named by `cutAt`, in graph order (a name that is no cut point is refused, with the list of those). */
function fixedCuts(cuts: readonly Cut[], names: readonly string[], where: string): Cut[] {
  const unknown = names.filter((t) => !cuts.some((c) => c.tensor === t));
  if (unknown.length) throw new ClipEdgeError('BAD_INPUT', `${where}: ${unknown.join(', ')}: not a point where the tower can be cut; those are: ${cuts.map((c) => c.tensor).join(', ')}`);
  return cuts.filter((c) => names.includes(c.tensor));
}

function planParts(all: readonly Cut[], total: number, o: SplitOptions, weightBudget: number, where: string): Cut[] {
  const fixed = fixedCuts(all, o.cutAt ?? [], where);
  // The tower after the last fixed cut is planned by weight alone, as a tower of its own.
  const base = fixed.at(-1);
  const after = base ? all.filter((c) => c.after > base.after) : all;
  const cuts = after.map((c) => ({ ...c, weightBytesBefore: c.weightBytesBefore - (base?.weightBytesBefore ?? 0) }));
  const rest = total - (base?.weightBytesBefore ?? 0);
  const back = (chosen: readonly Cut[]) => [...fixed, ...chosen.map((c) => after[cuts.indexOf(c)]!)];
  if (o.parts !== undefined) {
    if (o.parts <= fixed.length) throw new ClipEdgeError('BAD_INPUT', `${fixed.length} cuts make ${fixed.length + 1} parts at least, ${o.parts} asked`);
    return back(chooseCuts(cuts, rest, o.parts - fixed.length));
  }
  const fits = (chosen: readonly Cut[]) => weightsOf(back(chosen), total).every((w) => w <= weightBudget);
  for (let n = Math.max(1, Math.ceil(rest / weightBudget)); n <= cuts.length + 1; n++) {
    const chosen = chooseCuts(cuts, rest, n);
    if ((n > 1 || fixed.length) && fits(chosen)) return back(chosen);
  }
  throw new ClipEdgeError('BAD_INPUT', `no split keeps every part's weights within ${(weightBudget / MiB).toFixed(1)} MiB: a single block is larger (raise --part-budget-mb or quantize further)`);
}

const weightsOf = (chosen: readonly Cut[], total: number): number[] =>
  [...chosen.map((c) => c.weightBytesBefore), total].map((w, k, all) => w - (k ? all[k - 1]! : 0));

/** Cuts a model folder's vision tower (one variant) into parts, writes and checks them, and records them in manifest.json. */
export async function splitVisionTower(dir: string, o: SplitOptions): Promise<SplitResult> {
  const log = o.log ?? (() => {});
  const variant = o.variant ?? 'int8';
  const info = await readModelInfo(o.io.source);
  const entry = info.variants[variant]?.vision;
  if (!entry) throw new ClipEdgeError('MODEL_NOT_FOUND', `${dir} has no ${variant} vision encoder to split (quantize it first: clip-edge quantize ${dir} --variants ${variant})`);
  const where = path.join(dir, entry.file);
  const t0 = performance.now();
  const onnx = await readOnnx(where);
  const graph = new Graph(onnx.decode());
  const cuts = findCuts(graph, where);
  const total = totalWeightBytes(graph);
  const overhead = PART_OVERHEAD_MIB.ortBase + PART_OVERHEAD_MIB.jsHeap + (o.activationMiB ?? PART_OVERHEAD_MIB.activations);
  const weightBudget = ((o.budgetMiB ?? 116) - overhead) * MiB;
  if (o.parts === undefined && weightBudget <= 0) throw new ClipEdgeError('BAD_INPUT', `--part-budget-mb must be over the ${overhead} MiB a part's Worker needs besides its weights`);
  const chosen = planParts(cuts, total, o, weightBudget, where);
  const n = chosen.length + 1;
  log(`${where}: ${(total / MiB).toFixed(1)} MiB of weights, ${cuts.filter((c) => c.boundary).length} block boundaries; ${n} parts, cut before ${chosen.map((c) => c.nextBlock ?? c.tensor).join(', ')}`);
  const parts = extractParts(graph.model, chosen, where);
  const weights = weightsOf(chosen, total);
  const staged: Staged[] = [];
  try {
    const reports: SplitPartReport[] = [];
    const ortBytes: Uint8Array[] = [];
    for (const p of parts) {
      const file = partFile(entry.file, p.index, n, 'onnx');
      const s = await stageOnnx(path.join(dir, file), p.model);
      staged.push(s);
      const ort = await stageOrtFormat(s.temp.at(-1)![0], path.join(dir, partFile(entry.file, p.index, n, 'ort')));
      staged.push(ort);
      ortBytes.push(ort.bytes);
      reports.push(partReport(dir, s, ort, p, weights[p.index]!));
      log(`  part ${p.index + 1}/${n}${p.blocks ? ` (${p.blocks})` : ''}: ${(weights[p.index]! / MiB).toFixed(1)} MiB of weights, .ort ${(ort.bytes.byteLength / MiB).toFixed(1)} MiB, ${p.input} → ${p.output}`);
    }
    log(`running the ${n} parts chained against the whole tower (onnxruntime-web, in place)…`);
    const check = await checkChain(
      { bytes: await wholeBytes(dir, entry), ort: entry.ort !== undefined, where },
      reports.map((r, k) => ({ bytes: ortBytes[k]!, input: r.input, output: r.output, where: path.join(dir, r.ort.file) })),
      // A large tower (ViT-L/14: ~20 s per run here) is checked on fewer inputs; the chain is bit-equal when it is right.
      { height: info.preprocess.cropHeight, width: info.preprocess.cropWidth, ...(total > 200 * MiB ? { n: 2, runs: 1 } : {}) },
    );
    log(`  chained vs whole on ${check.n} inputs: cosine ≥ ${check.cosineMin.toFixed(7)}, max |Δ| ${check.maxAbsDiff.toExponential(2)}${check.bitEqual ? ' (bit-equal)' : ''}; ${check.latencyMs.chained.toFixed(0)} vs ${check.latencyMs.whole.toFixed(0)} ms per image`);
    if (!(check.cosineMin >= SPLIT_COSINE_MIN) && !o.force) {
      throw new ClipEdgeError('MODEL_INVALID', `the chained parts give cosine ${check.cosineMin.toFixed(7)} to the whole tower (gate ${SPLIT_COSINE_MIN}); nothing written (--force writes it anyway)`);
    }
    for (const s of staged) await commitStaged(s);
    staged.length = 0;
    await recordParts(dir, variant, entry, reports, check);
    log(`split in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const largestPartMiB = Math.max(...weights) / MiB + overhead;
    return { variant, parts: reports, check, largestPartMiB };
  } finally {
    for (const s of staged) await discardStaged(s);
  }
}

const rel = (dir: string, file: string) => path.relative(dir, file).split(path.sep).join('/');

function partReport(dir: string, s: Staged, ort: Staged, p: TowerPart, weightBytes: number): SplitPartReport {
  return {
    file: rel(dir, s.result.file),
    bytes: s.result.bytes,
    sha256: s.result.sha256,
    ort: { file: rel(dir, ort.result.file), bytes: ort.result.bytes, sha256: ort.result.sha256 },
    input: p.input,
    output: p.output,
    weightBytes,
    ...(p.blocks ? { blocks: p.blocks } : {}),
  };
}

/** The whole tower as Workers would load it: its `.ort` when listed, else its `.onnx`. */
async function wholeBytes(dir: string, entry: { file: string; ort?: { file: string } }): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path.join(dir, entry.ort?.file ?? entry.file)));
}

async function recordParts(dir: string, variant: Precision, entry: { file: string; sha256?: string }, reports: SplitPartReport[], check: ChainCheck): Promise<void> {
  const file = path.join(dir, 'manifest.json');
  const text = await readFile(file, 'utf8').catch(() => {
    throw new ClipEdgeError('MODEL_INVALID', `${file} is missing: quantize the folder first (the parts are recorded beside its variants)`);
  });
  const manifest = parseManifest(JSON.parse(text), file) as Manifest;
  const v = (manifest.variants ??= {})[variant] ?? {};
  // Files of an earlier split into another number of parts are removed with their entries.
  const old = (v.visionParts?.parts ?? []).flatMap((p) => [p.file, ...(p.ort ? [p.ort.file] : [])]);
  const now = new Set(reports.flatMap((r) => [r.file, r.ort.file]));
  const parts: ManifestVisionParts = {
    from: { file: entry.file, ...(entry.sha256 ? { sha256: entry.sha256 } : {}) },
    parts: reports.map((r) => ({ ...r, ort: { ...r.ort } })),
    check: { inputs: check.n, cosineMin: Number(check.cosineMin.toFixed(8)), maxAbsDiff: check.maxAbsDiff, bitEqual: check.bitEqual, runtime: 'onnxruntime-web WASM, parts in place' },
  };
  manifest.variants[variant] = { ...v, visionParts: parts };
  parseManifest(manifest, file);
  await writeAtomic(file, setTopLevelKeys(text, { variants: manifest.variants }));
  for (const f of old) if (!now.has(f)) await rm(path.join(dir, f), { force: true });
}
