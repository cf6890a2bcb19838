import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createClipTokenizer } from '../../src/core/tokenizer.ts';

const root = new URL('../..', import.meta.url);
const json = (p: string) => JSON.parse(readFileSync(new URL(p, root), 'utf8'));
const tokenizer = createClipTokenizer(json('models/tiny-clip/tokenizer.json'), json('models/tiny-clip/tokenizer_config.json'));
const golden = json('test/fixtures/golden/tokenizer_golden.json') as {
  openai_clip: { text: string; ids_padded_77?: number[]; ids?: number[] }[];
  vespa_sample_apps_cases: { text: string; ids: number[] }[];
};

describe('CLIP BPE tokenizer (tokenizer.json generated from OpenAI vocabulary)', () => {
  it.each(golden.openai_clip.map((c) => [c.text, c] as const))('openai/CLIP notebook case %j', (_, c) => {
    // clip.tokenize pads with 0; compare the ids up to <|endoftext|>, and the padded form separately.
    const expected = c.ids ?? c.ids_padded_77!.slice(0, c.ids_padded_77!.indexOf(49407) + 1);
    expect(tokenizer.encode(c.text)).toEqual(expected);
    if (c.ids_padded_77) {
      const zeroPadded = createClipTokenizer(json('models/tiny-clip/tokenizer.json'), {}, { padId: 0 });
      expect(Array.from(zeroPadded.encodeBatch([c.text]).inputIds, Number)).toEqual(c.ids_padded_77);
    }
  });

  it.each(golden.vespa_sample_apps_cases.map((c) => [c.text, c] as const))('vespa sample-apps case %j', (_, c) => {
    expect(tokenizer.encode(c.text)).toEqual(c.ids);
  });

  it('pads with <|endoftext|> to 77 and masks the padding', () => {
    const b = tokenizer.encodeBatch(['a photo of a cat', 'hi']);
    expect(b.batch).toBe(2);
    expect(b.inputIds.length).toBe(2 * 77);
    const row0 = Array.from(b.inputIds.subarray(0, 77), Number);
    const n = tokenizer.encode('a photo of a cat').length;
    expect(row0.slice(0, n)).toEqual(tokenizer.encode('a photo of a cat'));
    expect(row0.slice(n).every((id) => id === 49407)).toBe(true);
    expect(Array.from(b.attentionMask.subarray(0, 77), Number)).toEqual([...Array(n).fill(1), ...Array(77 - n).fill(0)]);
    expect(b.truncated).toEqual([false, false]);
  });

  it('truncates long text to 77 ids that still end with <|endoftext|>', () => {
    const long = 'word '.repeat(200);
    const ids = tokenizer.encode(long);
    expect(ids).toHaveLength(77);
    expect(ids[0]).toBe(49406);
    expect(ids[76]).toBe(49407);
    expect(tokenizer.encodeBatch([long]).truncated).toEqual([true]);
  });

  // openai/CLIP's own tokenizer and clip.tokenize(truncate=True) on texts of distinct words (make_truncation_golden.py).
  const truncation = json('test/fixtures/golden/truncation_golden.json') as {
    context_length: number;
    cases: { name: string; text: string; ids: number[]; truncated: boolean }[];
  };
  it.each(truncation.cases.map((c) => [c.name, c] as const))('truncates as openai/CLIP: %s', (_, c) => {
    expect(tokenizer.encode(c.text)).toEqual(c.ids);
    const b = tokenizer.encodeBatch([c.text]);
    expect(b.truncated).toEqual([c.truncated]);
    expect(Array.from(b.inputIds.subarray(0, c.ids.length), Number)).toEqual(c.ids);
    expect(Array.from(b.attentionMask, Number)).toEqual([...Array(c.ids.length).fill(1), ...Array(truncation.context_length - c.ids.length).fill(0)]);
  });

  it('handles empty text, unicode and odd whitespace without throwing', () => {
    expect(tokenizer.encode('')).toEqual([49406, 49407]);
    expect(tokenizer.encode('  Hello\n\tWORLD  ')).toEqual(tokenizer.encode('hello world'));
    expect(tokenizer.encode('café 日本 🚀').length).toBeGreaterThan(4);
  });
});
