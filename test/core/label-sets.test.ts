import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chainLabelSets, expandPrompts, makeLabelSet, parseLabelSet, staticLabelSets } from '../../src/core/label-sets.ts';

const dir = new URL('../../third_party/zero-shot-prompts/', import.meta.url);

describe('label sets', () => {
  it('parses every built-in openai/CLIP prompt file', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'index.json');
    expect(files.length).toBeGreaterThanOrEqual(26);
    for (const f of files) {
      const set = parseLabelSet(JSON.parse(readFileSync(new URL(f, dir), 'utf8')), f.slice(0, -5), { allowDuplicates: true });
      expect(set.labels.length).toBeGreaterThan(0);
      expect(set.templates.every((t) => t.includes('{}'))).toBe(true);
    }
  });

  it('keeps synonyms and expands every name through every template', () => {
    const set = makeLabelSet('fer', [['happy', 'smiling'], 'sad'], ['a {} face.', 'a photo of a {} person.']);
    expect(set.labels).toEqual(['happy', 'sad']);
    const { texts, groups } = expandPrompts(set);
    expect(texts).toEqual(['a happy face.', 'a photo of a happy person.', 'a smiling face.', 'a photo of a smiling person.', 'a sad face.', 'a photo of a sad person.']);
    expect(groups).toEqual([[0, 1, 2, 3], [4, 5]]);
  });

  it.each([
    ['no classes', [], ['{}'], /no classes/],
    ['empty class name', ['cat', '  '], ['{}'], /class 1/],
    ['duplicate (case-insensitive)', ['Cat', 'cat'], ['{}'], /twice/],
    ['template without {}', ['cat'], ['a photo'], /containing \{\}/],
    ['no templates', ['cat'], [], /no templates/],
    ['non-string class', ['cat', 3 as unknown as string], ['{}'], /class 1/],
  ])('rejects %s', (_, classes, templates, msg) => {
    expect(() => makeLabelSet('x', classes as string[], templates)).toThrow(msg);
  });

  it('rejects more classes than the limit with TOO_MANY_LABELS', () => {
    expect(() => makeLabelSet('x', ['a', 'b', 'c'], ['{}'], { maxLabels: 2 })).toThrow(expect.objectContaining({ code: 'TOO_MANY_LABELS' }));
  });

  it('rejects overlong labels', () => {
    expect(() => makeLabelSet('x', ['a'.repeat(201)], ['{}'])).toThrow(/longer than 200/);
  });

  it('rejects files without classes/templates arrays', () => {
    expect(() => parseLabelSet({ classes: 'cat' }, 'x')).toThrow(/"classes" array/);
    expect(() => parseLabelSet([], 'x')).toThrow(/JSON object/);
  });

  it('chains providers: first hit wins, names are merged', async () => {
    const a = staticLabelSets({ one: { classes: ['a'], templates: ['{}'] } });
    const b = staticLabelSets({ one: { classes: ['b'], templates: ['{}'] }, two: { classes: ['c'], templates: ['{}'] } });
    const chain = chainLabelSets(a, b);
    expect(await chain.list()).toEqual(['one', 'two']);
    expect((await chain.get('one'))?.labels).toEqual(['a']);
    expect(await chain.get('three')).toBeUndefined();
  });
});
