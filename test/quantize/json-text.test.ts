import { describe, expect, it } from 'vitest';
import { setTopLevelKeys } from '../../quantize/json-text.ts';

describe('setTopLevelKeys (manifest edits that keep the rest of the text)', () => {
  const python = '{\n  "id": "m",\n  "x": 0.0,\n  "nested": {"a": [1, {"b": "}\\"]"}]},\n  "variants": {\n    "fp32": {}\n  },\n  "last": 1.50\n}';
  it('replaces a key in place and appends new ones, leaving every other byte as it was', () => {
    const out = setTopLevelKeys(python, { variants: { fp32: {}, int8: { vision: { file: 'f' } } }, quantization: { ok: true } });
    expect(JSON.parse(out)).toEqual({ id: 'm', x: 0, nested: { a: [1, { b: '}"]' }] }, variants: { fp32: {}, int8: { vision: { file: 'f' } } }, last: 1.5, quantization: { ok: true } });
    expect(out).toContain('"x": 0.0,\n  "nested": {"a": [1, {"b": "}\\"]"}]},');
    expect(out).toContain('"last": 1.50,\n  "quantization": {\n    "ok": true\n  }\n}');
    expect(out).toContain('"variants": {\n    "fp32": {},\n    "int8": {\n      "vision": {\n        "file": "f"\n      }\n    }\n  },');
  });
  it('works on an empty object and with a trailing newline', () => {
    expect(setTopLevelKeys('{}\n', { a: 1 })).toBe('{\n  "a": 1\n}\n');
  });
});
