import { describe, expect, it } from 'vitest';
import { makeLabelSet } from '../../src/core/label-sets.ts';
import { encodePromptCache, type PromptCacheEntry } from '../../src/core/prompt-cache/format.ts';
import type { PromptCacheStore } from '../../src/core/prompt-cache/store.ts';

export const sampleEntry = async (labels = ['cat', 'dog', 'bird'], dim = 4): Promise<PromptCacheEntry> => {
  const set = makeLabelSet('animals', labels, ['a photo of a {}.']);
  const m = new Float32Array(labels.length * dim).map((_, i) => ((i * 37) % 11) / 11 - 0.5);
  return encodePromptCache(m, { labelSet: set, model: 'm', textEncoder: { file: 'onnx/text_model.onnx', precision: 'fp32', sha256: 'a'.repeat(64) }, dim, dtype: 'float32' });
};

/** The contract every prompt-cache store passes (memory, files, Workers KV/R2, Cache Storage). */
export function testPromptCacheStore(name: string, make: () => Promise<PromptCacheStore> | PromptCacheStore): void {
  describe(`prompt-cache store contract: ${name}`, () => {
    it('returns undefined for a missing key', async () => {
      expect(await (await make()).get('nothing-here')).toBeUndefined();
    });

    it('round-trips an entry byte for byte, header included', async () => {
      const store = await make();
      const entry = await sampleEntry();
      await store.put('animals', entry);
      const back = await store.get('animals');
      expect(back?.header).toEqual(entry.header);
      expect(Array.from(back!.data)).toEqual(Array.from(entry.data));
    });

    it('overwrites, lists and deletes keys', async () => {
      const store = await make();
      await store.put('a-1', await sampleEntry(['x', 'y']));
      await store.put('a-1', await sampleEntry(['x', 'y', 'z']));
      await store.put('b.2', await sampleEntry(['p']));
      expect((await store.get('a-1'))?.header.count).toBe(3);
      expect(await store.keys()).toEqual(expect.arrayContaining(['a-1', 'b.2']));
      await store.delete('a-1');
      expect(await store.get('a-1')).toBeUndefined();
      await store.delete('a-1'); // deleting twice is fine
      expect(await store.keys()).not.toContain('a-1');
    });
  });
}
