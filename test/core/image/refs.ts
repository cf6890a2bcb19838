import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { decode as decodePng } from 'fast-png';
import type { ClipPreprocessConfig } from '../../../src/core/image/preprocess.ts';
import type { RgbImage } from '../../../src/core/image/types.ts';
import { repoRoot } from '../../helpers/shared-data.ts';

/** One input in an index.json written by test/fixtures/pil/make_refs.py. */
export interface RefEntry {
  name: string;
  source?: string;
  sha256?: string;
  generated?: string;
  width: number;
  height: number;
  decoded: string | null;
  decodedSha256?: string;
  crops: Array<{ config: string; shortestEdge: number; cropHeight: number; cropWidth: number; resized: [number, number]; file: string }>;
}

export interface RefIndex {
  pil: string;
  libjpeg: string;
  libwebp: string;
  entries: RefEntry[];
  root?: string;
}

export const COMMITTED_REFS = path.join(repoRoot, 'test/fixtures/pil/refs');
export const CACHED_REFS = path.join(repoRoot, '.cache/pil-refs');

export const loadIndex = (dir: string): RefIndex | null => {
  const p = path.join(dir, 'index.json');
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as RefIndex) : null;
};

/** A PNG written by PIL (8-bit RGB) as an RgbImage. */
export function readRefPng(file: string): RgbImage {
  const png = decodePng(readFileSync(file));
  if (png.depth !== 8 || png.channels !== 3) throw new Error(`${file}: expected 8-bit RGB, got ${png.depth}-bit ×${png.channels}`);
  return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export const configOf = (c: RefEntry['crops'][number]): ClipPreprocessConfig => ({
  shortestEdge: c.shortestEdge,
  cropHeight: c.cropHeight,
  cropWidth: c.cropWidth,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
});

/** How far two same-size images differ, per 8-bit value. */
export interface Diff {
  values: number;
  exact: number;
  offByOne: number;
  maxDiff: number;
}

export function diff(a: RgbImage, b: RgbImage): Diff {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`size ${a.width}×${a.height} vs ${b.width}×${b.height}`);
  const d: Diff = { values: a.data.length, exact: 0, offByOne: 0, maxDiff: 0 };
  for (let i = 0; i < a.data.length; i++) {
    const e = Math.abs(a.data[i]! - b.data[i]!);
    if (e === 0) d.exact++;
    else if (e === 1) d.offByOne++;
    if (e > d.maxDiff) d.maxDiff = e;
  }
  return d;
}

/** Accumulates Diffs per group and prints a table at the end. */
export class ParityReport {
  private readonly groups = new Map<string, Diff & { images: number }>();

  add(group: string, d: Diff): void {
    const g = this.groups.get(group) ?? { images: 0, values: 0, exact: 0, offByOne: 0, maxDiff: 0 };
    g.images++;
    g.values += d.values;
    g.exact += d.exact;
    g.offByOne += d.offByOne;
    g.maxDiff = Math.max(g.maxDiff, d.maxDiff);
    this.groups.set(group, g);
  }

  toString(): string {
    const rows = [...this.groups].map(
      ([k, g]) =>
        `${k.padEnd(40)} ${String(g.images).padStart(4)} refs  ${((100 * g.exact) / g.values).toFixed(4).padStart(8)} % exact  max |Δ| ${g.maxDiff}`,
    );
    return rows.join('\n');
  }
}
