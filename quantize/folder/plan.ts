// Planning a folder's quantization run: which towers, whether the asked variants can be made, and
// how much verification a model of this size gets.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ClipEdgeError } from '../../src/core/errors.ts';
import type { ModelInfo } from '../../src/core/model/info.ts';
import { type Precision, type Tower, TOWERS, onnxFileOf } from '../../src/core/precision.ts';
import type { QuantVariant } from '../pipeline.ts';
import type { OrtReport, TowerReport } from './verify.ts';

export interface VerifyBudget {
  /** Images checked (spread over the sources). @defaultValue all; 32 for towers over 50 MB */
  maxImages?: number;
  /** Templates per class. @defaultValue all; 1 for towers over 50 MB */
  maxTemplates?: number;
  /** Timed batch-1 runs per model (the median is reported). @defaultValue 20; 5 for towers over 50 MB */
  latencyRuns?: number;
}

/** Towers over this many float32 bytes get the smaller verification budget. */
const BIG = 50 * 2 ** 20;

/**
 * The towers to quantize (`towers`, else every float32 one the folder has). Throws BAD_INPUT when
 * nothing is asked for, MODEL_NOT_FOUND when a tower has no float32 file or an `ort` variant is
 * neither made by this run nor already in the folder.
 */
export function planTowers(
  dir: string,
  info: ModelInfo,
  asked: { variants: readonly QuantVariant[]; towers?: readonly Tower[]; ort?: readonly Precision[] },
): readonly Tower[] {
  const towers = asked.towers ?? TOWERS.filter((t) => info.variants.fp32?.[t]);
  if (!asked.variants.length && !asked.ort?.length) throw new ClipEdgeError('BAD_INPUT', 'no variants asked for');
  for (const v of asked.ort ?? []) {
    for (const t of towers) {
      if (!(asked.variants as readonly string[]).includes(v) && !info.variants[v]?.[t]) {
        throw new ClipEdgeError('MODEL_NOT_FOUND', `--ort ${v}: ${dir} has no ${v} ${t} variant and this run does not make one (add it to --variants)`);
      }
    }
  }
  for (const t of towers) {
    if (!info.variants.fp32?.[t]) throw new ClipEdgeError('MODEL_NOT_FOUND', `${dir} has no float32 ${t} encoder (${onnxFileOf(t, 'fp32')})`);
  }
  return towers;
}

/** The float32 file of a tower the folder has. */
export const fp32FileOf = (dir: string, info: ModelInfo, t: Tower): string => path.join(dir, info.variants.fp32![t]!.file);

/** The budget asked for, the rest filled in by the size of the largest float32 tower. */
export function verifyBudget(asked: VerifyBudget | undefined, fp32Sizes: Iterable<number>): Required<VerifyBudget> {
  const big = Math.max(...fp32Sizes) > BIG;
  return {
    maxImages: asked?.maxImages ?? (big ? 32 : Infinity),
    maxTemplates: asked?.maxTemplates ?? (big ? 1 : Infinity),
    latencyRuns: asked?.latencyRuns ?? (big ? 5 : 20),
  };
}

type RecordedEntry = { sha256?: string; ort?: { file: string; sha256?: string } };
/** The manifest's entry of a variant's tower, as recorded before this run. */
const recordedEntry = (info: ModelInfo, variant: string, tower: Tower): RecordedEntry | undefined =>
  (info.manifest?.variants as Record<string, Partial<Record<Tower, RecordedEntry>>> | undefined)?.[variant]?.[tower];

/**
 * The ORT-format forms a run writes: the variants asked for (`--ort`) on every tower, and each
 * variant × tower this run rewrote that the folder's manifest lists with an `.ort` (re-converted
 * from the new file, so a re-run without `--ort` keeps the in-place form and its entry).
 */
export function ortPlan(dir: string, info: ModelInfo, towers: readonly Tower[], asked: readonly Precision[], written: readonly TowerReport[], log: (line: string) => void): { variant: Precision; tower: Tower }[] {
  const plan = asked.flatMap((variant) => towers.map((tower) => ({ variant, tower })));
  for (const r of written) {
    if (!r.written || plan.some((p) => p.variant === r.variant && p.tower === r.tower)) continue;
    const entry = recordedEntry(info, r.variant, r.tower);
    if (!entry?.ort) continue;
    // Converted from these very bytes already: kept as it is (the conversion is not byte-stable).
    if (entry.sha256 === r.sha256 && fileSha256(path.join(dir, entry.ort.file)) === entry.ort.sha256) continue;
    log(`${r.variant} ${r.tower}: the folder has its ORT-format form; converting it again from the new file`);
    plan.push({ variant: r.variant, tower: r.tower });
  }
  return plan;
}

const fileSha256 = (file: string): string | undefined => (existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : undefined);

export interface Recorded {
  reports: TowerReport[];
  ort: OrtReport[];
  /**
   * This run checked fewer sources than the recorded reports: the manifest's `verifiedOn` stays
   * theirs, and each report written now carries its own `verifiedOn`.
   */
  fewerSources: boolean;
}

/** A verification source without its counts: `../shared/data/images (200 images: …)` → `../shared/data/images`. */
const sourceName = (s: string) => s.replace(/ \(.*$/, '');

/**
 * What a run records in manifest.json. A file whose bytes are those already recorded (same sha256)
 * keeps its recorded report when this run checked fewer sources than that report's (e.g. without
 * ../shared/data): the same file measured on less data must not replace its stats. A changed file
 * is recorded with this run's stats, with a warning that they come from a smaller check set.
 */
export function toRecord(info: ModelInfo, sources: readonly string[], reports: TowerReport[], ort: OrtReport[], log: (line: string) => void): Recorded {
  const recordedOn = (info.manifest?.quantization as { verifiedOn?: unknown } | undefined)?.verifiedOn;
  const missing = Array.isArray(recordedOn) ? recordedOn.map(String).map(sourceName).filter((s) => !sources.map(sourceName).includes(s)) : [];
  if (!missing.length) return { reports, ort, fewerSources: false };
  const recorded = (r: { variant: string; tower: Tower }) => recordedEntry(info, r.variant, r.tower);
  const same = (r: TowerReport) => recorded(r)?.sha256 === r.sha256;
  const sameOrt = (r: OrtReport) => recorded(r)?.ort?.sha256 === r.sha256;
  const kept = [...reports.filter(same).map((r) => `${r.variant} ${r.tower}`), ...ort.filter(sameOrt).map((r) => `${r.variant} ${r.tower} .ort`)];
  if (kept.length) log(`${kept.join(', ')}: unchanged (same sha256); their recorded reports are kept (this run did not check ${missing.join(', ')})`);
  const changed = [...reports.filter((r) => !same(r)), ...ort.filter((r) => !sameOrt(r))];
  if (changed.length) log(`warning: ${changed.map((r) => `${r.variant} ${r.tower}${'from' in r ? ' .ort' : ''}`).join(', ')} recorded with stats from fewer sources than before (missing: ${missing.join(', ')})`);
  return { reports: reports.filter((r) => !same(r)), ort: ort.filter((r) => !sameOrt(r)), fewerSources: true };
}
