// Edges of the prompt-cache format: float16 rounding against a brute-force IEEE reference,
// the content key's definition, views into larger buffers, malformed headers and blobs.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeLabelSet } from '../../src/core/label-sets.ts';
import { PROMPT_CACHE_FORMAT, decodePromptCache, encodePromptCache, promptCacheKey, unpackPromptCache, type PromptCacheEntry } from '../../src/core/prompt-cache/format.ts';
import { f16ToF32, f32ToF16, fromHalf, toHalf } from '../../src/core/prompt-cache/float16.ts';

/** binary16 bits → value, from the IEEE 754 definition. */
const halfValue = (h: number) => {
  const e = (h >> 10) & 31;
  const m = h & 1023;
  const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
};
const POSITIVE = Float64Array.from({ length: 0x7c00 }, (_, h) => halfValue(h)); // every finite half ≥ 0, increasing
/** Round to nearest, ties to even, overflow (≥ 65520) to infinity: by search over every half. */
function nearestHalf(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  let lo = 0;
  let hi = POSITIVE.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (POSITIVE[mid]! <= a) lo = mid;
    else hi = mid;
  }
  const dl = a - POSITIVE[lo]!;
  const dh = POSITIVE[hi]! - a;
  return sign | (dl < dh ? lo : dh < dl ? hi : lo % 2 === 0 ? lo : hi);
}

describe('float16 conversion', () => {
  it('toHalf rounds every sampled float32 (normal, subnormal, ties, overflow) as IEEE 754 round-to-nearest-even', () => {
    const xs: number[] = [0, -0, 1e-10, 2 ** -25, 1.5 * 2 ** -25, 3 * 2 ** -26, 65504, 65519.99, 65520, 65536, 98304, 1e30, -1e30];
    for (let k = 0; k < 64; k++) xs.push((k + 0.5) * 2 ** -24, (k + 0.25) * 2 ** -24, (k + 0.75) * 2 ** -24); // subnormal halves and ties
    for (let m = 0; m < 1024; m += 37) for (const frac of [0.5, 0.25, 0.75, 0.4999, 0.5001]) xs.push((1 + (m + frac) / 1024) * 2 ** ((m % 30) - 14));
    let s = 7;
    for (let i = 0; i < 4000; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      xs.push((s / 2 ** 32 - 0.5) * 2 ** ((i % 44) - 26));
    }
    for (const x of xs) {
      const f = Math.fround(x);
      expect(toHalf(f), `${f}`).toBe(nearestHalf(f));
    }
  });

  it('keeps infinities and NaN, and decodes the special values', () => {
    expect([toHalf(Infinity), toHalf(-Infinity), toHalf(NaN)]).toEqual([0x7c00, 0xfc00, 0x7e00]);
    expect([fromHalf(0x7c00), fromHalf(0xfc00), fromHalf(0x8000)]).toEqual([Infinity, -Infinity, -0]);
    expect(fromHalf(0x7e00)).toBeNaN();
    expect(fromHalf(0x0001)).toBe(2 ** -24);
    expect(Array.from(f16ToF32(Uint16Array.of(0x3c00, 0xc000)))).toEqual([1, -2]);
    expect(Array.from(f32ToF16(Float32Array.of(1, -2)))).toEqual([0x3c00, 0xc000]);
  });
});

const set = makeLabelSet('animals', ['cat', ['dog', 'puppy'], 'bird'], ['a photo of a {}.', 'a {}.']);
const SHA = 'b'.repeat(64);
const dim = 4;
const values = Float32Array.from({ length: 3 * dim }, (_, i) => Math.cos(i) / 3);
const meta = (dtype: 'float32' | 'float16', createdAt?: string) => ({
  labelSet: set,
  model: 'm',
  textEncoder: { file: 'onnx/text_model.onnx', precision: 'fp32', sha256: SHA },
  dim,
  dtype,
  ...(createdAt ? { createdAt } : {}),
});
const expectation = { labelSet: set, dim, textEncoderSha256: [SHA] };
const stale = (message: RegExp) => expect.objectContaining({ code: 'INTEGRITY_MISMATCH', message: expect.stringMatching(message) });

describe('prompt-cache entries', () => {
  it('the key is sha256 of the canonical JSON of (format tag, text encoder, dim, synonyms, templates)', async () => {
    const canonical = JSON.stringify(['clip-edge/prompt-cache-key@1', SHA, dim, set.synonyms, set.templates]);
    const want = createHash('sha256').update(canonical).digest('hex');
    expect(await promptCacheKey(SHA, dim, set)).toBe(want);
    const e = await encodePromptCache(values, meta('float32', '2026-01-02T03:04:05.000Z'));
    expect(e.header).toMatchObject({ format: 'clip-edge/prompt-cache@1', key: want, count: 3, dim, createdAt: '2026-01-02T03:04:05.000Z' });
    expect(PROMPT_CACHE_FORMAT).toBe('clip-edge/prompt-cache@1');
    expect((await encodePromptCache(values, meta('float32'))).header.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('refuses a matrix of the wrong size as INTERNAL', async () => {
    await expect(encodePromptCache(values.subarray(0, 5), meta('float32'))).rejects.toMatchObject({ code: 'INTERNAL', message: 'prompt cache matrix has 5 values, expected 3 × 4' });
  });

  it('encodes only the matrix when it is a view into a larger array, and decodes views at any offset', async () => {
    const big = new Float32Array(40);
    big.set(values, 8);
    for (const dtype of ['float32', 'float16'] as const) {
      const e = await encodePromptCache(big.subarray(8, 8 + values.length), meta(dtype));
      expect(e.data.byteLength).toBe(values.length * (dtype === 'float32' ? 4 : 2));
      const want = Array.from(await decodePromptCache(e, expectation));
      for (const offset of [1, 3, 8]) {
        const host = new Uint8Array(e.data.byteLength + 16);
        host.set(e.data, offset);
        const view: PromptCacheEntry = { header: e.header, data: host.subarray(offset, offset + e.data.byteLength) };
        expect(Array.from(await decodePromptCache(view, expectation)), `${dtype} at ${offset}`).toEqual(want);
      }
    }
  });

  it('refuses headers that are missing, not objects, without a text encoder, or with labels that disagree', async () => {
    const e = await encodePromptCache(values, meta('float32'));
    await expect(decodePromptCache({ ...e, header: null as never }, expectation)).rejects.toEqual(stale(/^stale or corrupt prompt cache: unknown format undefined$/));
    await expect(decodePromptCache({ ...e, header: 'x' as never }, expectation)).rejects.toEqual(stale(/unknown format/));
    await expect(decodePromptCache({ ...e, header: { ...e.header, textEncoder: undefined as never } }, expectation)).rejects.toEqual(stale(/built with text encoder \?…, which is not one of this model's/));
    await expect(decodePromptCache(e, { ...expectation, textEncoderSha256: ['c'.repeat(64)] })).rejects.toEqual(stale(/built with text encoder bbbbbbbbbbbb…/));
    await expect(decodePromptCache({ ...e, header: { ...e.header, labels: 'cat' as never } }, expectation)).rejects.toEqual(stale(/header counts disagree/));
    await expect(decodePromptCache({ ...e, header: { ...e.header, labels: ['cat', 'dog'] } }, expectation)).rejects.toEqual(stale(/header counts disagree/));
    // A count that agrees with the labels but not with the classes (synonyms).
    await expect(decodePromptCache({ ...e, header: { ...e.header, count: 2, labels: ['cat', 'dog'] } }, expectation)).rejects.toEqual(stale(/header counts disagree/));
    // A text encoder without a sha256 is refused with a message, not a TypeError.
    await expect(decodePromptCache({ ...e, header: { ...e.header, textEncoder: {} as never } }, expectation)).rejects.toEqual(stale(/built with text encoder \?…/));
  });
});

describe('packed blobs', () => {
  const MAGIC = [0x43, 0x45, 0x50, 0x43]; // "CEPC"
  const blob = (len: number, header: string, extra = 0) => {
    const h = new TextEncoder().encode(header);
    const out = new Uint8Array(8 + h.length + extra);
    out.set(MAGIC);
    new DataView(out.buffer).setUint32(4, len, true);
    out.set(h, 8);
    return out;
  };

  it('reads a header that ends the blob (no matrix bytes)', () => {
    const b = blob(2, '{}');
    expect(unpackPromptCache(b)).toEqual({ header: {}, data: new Uint8Array(0) });
  });

  it('refuses short blobs, a wrong magic, a header longer than the blob, and a header that is not JSON', () => {
    expect(() => unpackPromptCache(new Uint8Array(MAGIC))).toThrow(stale(/not a packed prompt cache/));
    expect(() => unpackPromptCache(Uint8Array.of(0x43, 0, 0, 0, 0, 0, 0, 0, 0))).toThrow(stale(/not a packed prompt cache/));
    expect(() => unpackPromptCache(blob(0, ''))).toThrow(stale(/^stale or corrupt prompt cache: header is not JSON$/));
    expect(() => unpackPromptCache(blob(3, '{}'))).toThrow(stale(/^stale or corrupt prompt cache: truncated header$/));
    expect(() => unpackPromptCache(blob(2, '{x'))).toThrow(stale(/header is not JSON/));
  });
});
