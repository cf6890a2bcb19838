// The tokenizer wrapper's options and failures (src/core/tokenizer.ts): what tokenizer_config.json
// and the options may say, and how a broken tokenizer.json is refused.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createClipTokenizer } from '../../src/core/tokenizer.ts';

const json = (p: string) => JSON.parse(readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8'));
const TOK = json('models/tiny-clip/tokenizer.json');
const SOT = 49406;
const EOT = 49407;
const BANG = 0; // "!" is id 0 in CLIP's vocabulary
const row = (t: ReturnType<typeof createClipTokenizer>, texts: string[], r: number) => {
  const b = t.encodeBatch(texts);
  return { ids: Array.from(b.inputIds.subarray(r * b.contextLength, (r + 1) * b.contextLength), Number), mask: Array.from(b.attentionMask.subarray(r * b.contextLength, (r + 1) * b.contextLength), Number) };
};

describe('tokenizer options', () => {
  it('pads with tokenizer_config.json\'s pad_token (a string or an AddedToken object), else <|endoftext|>; padId overrides both', () => {
    const n = createClipTokenizer(TOK, {}).encode('a dog').length;
    expect(row(createClipTokenizer(TOK, {}), ['a dog'], 0).ids.slice(n)).toEqual(Array(77 - n).fill(EOT));
    expect(row(createClipTokenizer(TOK, { pad_token: '!' }), ['a dog'], 0).ids.slice(n)).toEqual(Array(77 - n).fill(BANG));
    expect(row(createClipTokenizer(TOK, { pad_token: { content: '!' } }), ['a dog'], 0).ids.slice(n)).toEqual(Array(77 - n).fill(BANG));
    expect(row(createClipTokenizer(TOK, { pad_token: '!' }, { padId: 5 }), ['a dog'], 0).ids.slice(n)).toEqual(Array(77 - n).fill(5));
    expect(row(createClipTokenizer(TOK, { pad_token: 'not-a-token' }), ['a dog'], 0).ids.slice(n)).toEqual(Array(77 - n).fill(EOT));
    // tokenizer_config.json files often say "pad_token": null.
    expect(row(createClipTokenizer(TOK, { pad_token: null }), ['a dog'], 0).ids.slice(n)).toEqual(Array(77 - n).fill(EOT));
    expect(row(createClipTokenizer(TOK, { pad_token: 5 }), ['a dog'], 0).ids.slice(n)).toEqual(Array(77 - n).fill(EOT)); // not a token name: ignored
  });

  it('ends truncated text with the eos_token of tokenizer_config.json (a string or an AddedToken object)', () => {
    for (const eos of ['<|endoftext|>', { content: '<|endoftext|>' }]) {
      const t = createClipTokenizer(TOK, { eos_token: eos }, { contextLength: 4 });
      expect(t.encode('one two three four five')).toEqual([SOT, ...t.encode('one two').slice(1, 3), EOT]);
    }
    const bang = createClipTokenizer(TOK, { eos_token: '!' }, { contextLength: 4 });
    expect(bang.encode('one two three four five').at(-1)).toBe(BANG);
  });

  it('the context length defaults to 77, may be any integer ≥ 2, and is refused otherwise', () => {
    expect(createClipTokenizer(TOK).contextLength).toBe(77);
    const two = createClipTokenizer(TOK, {}, { contextLength: 2 });
    expect(two.encode('a photo')).toEqual([SOT, EOT]);
    expect(two.encodeBatch(['a photo', '']).truncated).toEqual([true, false]);
    for (const bad of [1, 0, 2.5, NaN]) {
      expect(() => createClipTokenizer(TOK, {}, { contextLength: bad })).toThrow(
        expect.objectContaining({ code: 'BAD_INPUT', message: `contextLength must be an integer ≥ 2, got ${bad}` }),
      );
    }
  });

  it('lays each text of a batch in its own row, with its mask', () => {
    const t = createClipTokenizer(TOK, {}, { contextLength: 8 });
    const texts = ['red', 'a green star', 'blue'];
    texts.forEach((text, r) => {
      const ids = t.encode(text);
      expect(row(t, texts, r)).toEqual({ ids: [...ids, ...Array(8 - ids.length).fill(EOT)], mask: [...Array(ids.length).fill(1), ...Array(8 - ids.length).fill(0)] });
    });
  });

  it('refuses a tokenizer.json it cannot load, and one without <|endoftext|>, as MODEL_INVALID', () => {
    let err: unknown;
    try {
      createClipTokenizer({ model: { type: 'no-such-model' } });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'MODEL_INVALID', message: 'tokenizer.json could not be loaded' });
    expect((err as Error).cause).toBeDefined();
    expect(() => createClipTokenizer(TOK, { eos_token: '<|no-such-token|>' })).toThrow(
      expect.objectContaining({ code: 'MODEL_INVALID', message: 'tokenizer.json has no <|endoftext|> token' }),
    );
  });
});
