import { ClipEdgeError } from '../errors.ts';
import type { LabelSet } from '../label-sets.ts';
import { sha256Hex } from '../model/integrity.ts';
import { f16ToF32, f32ToF16 } from './float16.ts';

export const PROMPT_CACHE_FORMAT = 'clip-edge/prompt-cache@1';

export type PromptCacheDtype = 'float32' | 'float16';

/**
 * The JSON header of a prompt cache (`prompts/<set>.json`); the matrix is in `<set>.bin`:
 * `count × dim` little-endian values, row k = the normalised, template-ensembled embedding of class k.
 */
export interface PromptCacheHeader {
  format: typeof PROMPT_CACHE_FORMAT;
  labelSet: string;
  model: string;
  /** The text encoder that made the matrix; its sha256 ties the cache to exact weights. */
  textEncoder: { file: string; precision: string; sha256: string };
  labels: string[];
  synonyms: string[][];
  templates: string[];
  dim: number;
  count: number;
  dtype: PromptCacheDtype;
  /** sha256 of (text encoder sha256, dim, synonyms, templates): what the matrix is a function of. */
  key: string;
  /** sha256 of the matrix bytes. */
  dataSha256: string;
  createdAt: string;
}

export interface PromptCacheEntry {
  header: PromptCacheHeader;
  data: Uint8Array;
}

/** The content key of a label set under one text encoder (stable across runtimes: canonical JSON). */
export function promptCacheKey(textEncoderSha256: string, dim: number, set: Pick<LabelSet, 'synonyms' | 'templates'>): Promise<string> {
  const canonical = JSON.stringify(['clip-edge/prompt-cache-key@1', textEncoderSha256, dim, set.synonyms, set.templates]);
  return sha256Hex(new TextEncoder().encode(canonical));
}

/** Builds a cache entry from a [count, dim] matrix. */
export async function encodePromptCache(
  matrix: Float32Array,
  meta: { labelSet: LabelSet; model: string; textEncoder: PromptCacheHeader['textEncoder']; dim: number; dtype: PromptCacheDtype; createdAt?: string },
): Promise<PromptCacheEntry> {
  const { labelSet, dim } = meta;
  const count = labelSet.labels.length;
  if (matrix.length !== count * dim) {
    throw new ClipEdgeError('INTERNAL', `prompt cache matrix has ${matrix.length} values, expected ${count} × ${dim}`);
  }
  const values = meta.dtype === 'float16' ? f32ToF16(matrix) : matrix;
  const data = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const header: PromptCacheHeader = {
    format: PROMPT_CACHE_FORMAT,
    labelSet: labelSet.name,
    model: meta.model,
    textEncoder: meta.textEncoder,
    labels: [...labelSet.labels],
    synonyms: labelSet.synonyms.map((s) => [...s]),
    templates: [...labelSet.templates],
    dim,
    count,
    dtype: meta.dtype,
    key: await promptCacheKey(meta.textEncoder.sha256, dim, labelSet),
    dataSha256: await sha256Hex(data),
    createdAt: meta.createdAt ?? new Date().toISOString(),
  };
  return { header, data };
}

export interface PromptCacheExpectation {
  /** The label set the caller wants: names, synonyms and templates must match exactly. */
  labelSet: Pick<LabelSet, 'synonyms' | 'templates'>;
  dim: number;
  /** sha256 of every text encoder of this model that may have built the cache. */
  textEncoderSha256: readonly string[];
}

const stale = (what: string) =>
  new ClipEdgeError('INTEGRITY_MISMATCH', `stale or corrupt prompt cache: ${what}`);

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Checks an entry against what the caller expects and returns its matrix as float32.
 * Every mismatch (other text encoder, dim, label set, corrupt bytes, bad header) throws
 * INTEGRITY_MISMATCH: a stale cache is never used silently.
 */
export async function decodePromptCache(entry: PromptCacheEntry, expect: PromptCacheExpectation): Promise<Float32Array> {
  const h = entry.header as Partial<PromptCacheHeader> | undefined;
  if (!h || typeof h !== 'object' || h.format !== PROMPT_CACHE_FORMAT) throw stale(`unknown format ${JSON.stringify(h?.format)}`);
  if (h.dim !== expect.dim) throw stale(`built for dim ${h.dim}, the model has ${expect.dim}`);
  if (!h.textEncoder || !expect.textEncoderSha256.includes(h.textEncoder.sha256)) {
    throw stale(`built with text encoder ${h.textEncoder?.sha256?.slice(0, 12) ?? '?'}…, which is not one of this model's`);
  }
  if (!sameJson(h.synonyms, expect.labelSet.synonyms) || !sameJson(h.templates, expect.labelSet.templates)) {
    throw stale(`its classes or templates differ from label set "${h.labelSet}"`);
  }
  if (!Array.isArray(h.labels) || h.labels.length !== h.count || h.synonyms!.length !== h.count) throw stale('header counts disagree');
  const key = await promptCacheKey(h.textEncoder.sha256, h.dim!, { synonyms: h.synonyms!, templates: h.templates! });
  if (key !== h.key) throw stale('header key does not match its contents');
  const bytesPer = h.dtype === 'float16' ? 2 : h.dtype === 'float32' ? 4 : 0;
  if (!bytesPer) throw stale(`unknown dtype ${JSON.stringify(h.dtype)}`);
  if (entry.data.byteLength !== h.count! * h.dim! * bytesPer) {
    throw stale(`matrix has ${entry.data.byteLength} bytes, expected ${h.count} × ${h.dim} × ${bytesPer}`);
  }
  if ((await sha256Hex(entry.data)) !== h.dataSha256) throw stale('matrix bytes do not match their sha256');
  const aligned = entry.data.byteOffset % bytesPer === 0 ? entry.data : entry.data.slice();
  const matrix =
    bytesPer === 2
      ? f16ToF32(new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2))
      : new Float32Array(aligned.buffer.slice(aligned.byteOffset, aligned.byteOffset + aligned.byteLength));
  for (let i = 0; i < matrix.length; i++) if (!Number.isFinite(matrix[i]!)) throw stale('matrix holds non-finite values');
  return matrix;
}

const MAGIC = new TextEncoder().encode('CEPC');

/** One blob (for stores that keep a single value: KV, Cache Storage): "CEPC", u32 header length, header, padding, data. */
export function packPromptCache(entry: PromptCacheEntry): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify(entry.header));
  const start = Math.ceil((8 + header.byteLength) / 8) * 8;
  const out = new Uint8Array(start + entry.data.byteLength);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, header.byteLength, true);
  out.set(header, 8);
  out.fill(0x20, 8 + header.byteLength, start);
  out.set(entry.data, start);
  return out;
}

export function unpackPromptCache(blob: Uint8Array): PromptCacheEntry {
  if (blob.byteLength < 8 || !MAGIC.every((b, i) => blob[i] === b)) throw stale('not a packed prompt cache');
  const len = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(4, true);
  if (8 + len > blob.byteLength) throw stale('truncated header');
  let header: PromptCacheHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(blob.subarray(8, 8 + len))) as PromptCacheHeader;
  } catch {
    throw stale('header is not JSON');
  }
  const start = Math.ceil((8 + len) / 8) * 8;
  return { header, data: blob.subarray(start) };
}
