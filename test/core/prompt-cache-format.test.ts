import { describe, expect, it } from 'vitest';
import { makeLabelSet } from '../../src/core/label-sets.ts';
import { decodePromptCache, encodePromptCache, packPromptCache, unpackPromptCache, type PromptCacheEntry } from '../../src/core/prompt-cache/format.ts';
import { f16ToF32, f32ToF16, fromHalf, toHalf } from '../../src/core/prompt-cache/float16.ts';

const set = makeLabelSet('animals', ['cat', ['dog', 'puppy'], 'bird'], ['a photo of a {}.', 'a {}.']);
const SHA = 'b'.repeat(64);
const dim = 8;
const matrix = new Float32Array(3 * dim).map((_, i) => Math.sin(i) / 2);
const make = (dtype: 'float32' | 'float16') =>
  encodePromptCache(matrix, { labelSet: set, model: 'm', textEncoder: { file: 'onnx/text_model.onnx', precision: 'fp32', sha256: SHA }, dim, dtype });
const expectation = { labelSet: set, dim, textEncoderSha256: [SHA] };

describe('prompt cache format', () => {
  it('round-trips float32 exactly and float16 within half precision', async () => {
    expect(Array.from(await decodePromptCache(await make('float32'), expectation))).toEqual(Array.from(matrix));
    const half = await decodePromptCache(await make('float16'), expectation);
    half.forEach((v, i) => expect(Math.abs(v - matrix[i]!)).toBeLessThan(1e-3));
    expect((await make('float16')).data.byteLength).toBe(3 * dim * 2);
  });

  it('packs into one blob and back', async () => {
    const e = await make('float16');
    const back = unpackPromptCache(packPromptCache(e));
    expect(back.header).toEqual(e.header);
    expect(Array.from(back.data)).toEqual(Array.from(e.data));
  });

  const broken: [string, (e: PromptCacheEntry) => PromptCacheEntry | Promise<PromptCacheEntry>, object, RegExp][] = [
    ['another text encoder', (e) => e, { textEncoderSha256: ['c'.repeat(64)] }, /not one of this model's/],
    ['another dim', (e) => e, { dim: 16 }, /built for dim 8, the model has 16/],
    ['other templates', (e) => e, { labelSet: makeLabelSet('animals', ['cat', ['dog', 'puppy'], 'bird'], ['a {}.']) }, /classes or templates differ/],
    ['other classes', (e) => e, { labelSet: makeLabelSet('animals', ['cat', 'dog', 'bird'], ['a photo of a {}.', 'a {}.']) }, /classes or templates differ/],
    ['a flipped matrix byte', (e) => ({ ...e, data: e.data.map((b, i) => (i === 5 ? b ^ 1 : b)) }), {}, /do not match their sha256/],
    ['a truncated matrix', (e) => ({ ...e, data: e.data.slice(0, 10) }), {}, /matrix has 10 bytes/],
    ['an unknown format', (e) => ({ ...e, header: { ...e.header, format: 'v0' as never } }), {}, /unknown format/],
    ['a forged key', (e) => ({ ...e, header: { ...e.header, key: '0'.repeat(64) } }), {}, /key does not match/],
    ['counts that disagree', (e) => ({ ...e, header: { ...e.header, count: 2 } }), {}, /counts disagree/],
    ['an unknown dtype', (e) => ({ ...e, header: { ...e.header, dtype: 'int8' as never } }), {}, /unknown dtype/],
  ];
  it.each(broken)('refuses a cache with %s (INTEGRITY_MISMATCH, never used)', async (_, edit, expectOverride, message) => {
    const e = await edit(await make('float32'));
    await expect(decodePromptCache(e, { ...expectation, ...expectOverride })).rejects.toMatchObject({ code: 'INTEGRITY_MISMATCH', message: expect.stringMatching(message) });
  });

  it('refuses non-finite values even with a matching hash', async () => {
    const bad = new Float32Array(matrix);
    bad[3] = NaN;
    const e = await encodePromptCache(bad, { labelSet: set, model: 'm', textEncoder: { file: 'f', precision: 'fp32', sha256: SHA }, dim, dtype: 'float32' });
    await expect(decodePromptCache(e, expectation)).rejects.toThrow(/non-finite/);
  });

  it('refuses a blob that is not a packed cache', () => {
    expect(() => unpackPromptCache(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]))).toThrow(/not a packed prompt cache/);
  });
});

describe('float16', () => {
  it.each([[0, 0], [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [1e6, 0x7c00], [5.960464477539063e-8, 1], [0.333251953125, 0x3555]])('%f ↔ 0x%s', (x, h) => {
    expect(toHalf(x)).toBe(h);
    if (Number.isFinite(fromHalf(h)) && x <= 65504) expect(fromHalf(h)).toBeCloseTo(x, 10);
  });

  it('rounds to nearest even and round-trips every half value', () => {
    const all = new Uint16Array(65536).map((_, i) => i).filter((h) => ((h >>> 10) & 0x1f) !== 0x1f);
    expect(Array.from(f32ToF16(f16ToF32(all)))).toEqual(Array.from(all));
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // halfway: to even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });
});
