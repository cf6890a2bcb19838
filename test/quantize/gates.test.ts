// Every gate key of every variant, just above and just below its threshold (quantize/verify/gates.ts).
import { describe, expect, it } from 'vitest';
import { DEFAULT_GATES, checkGate, parseGates, type Gate } from '../../quantize/verify/gates.ts';
import type { CosineStats, Top1Stats } from '../../quantize/verify/metrics.ts';
import { QUANT_VARIANTS } from '../../quantize/pipeline.ts';

/** The variants a gate may name: every gated row of PRECISION_TABLE (fp16, int8, q4, and any added later). */
const VARIANTS = QUANT_VARIANTS.join('|');

const EPS = 1e-6;
const cos = (mean: number, min: number): CosineStats => ({ mean, min, n: 10 });
const top1 = (agreement: number, n = 100): Top1Stats => ({ agreement, n, fp32MarginMedian: 0.1, accuracy: {} });
/** Measurements that pass every gate, with one key set to a given value. */
const measured = (key: keyof Gate, value: number) => ({
  cos: cos(key === 'cosineMean' ? value : 1, key === 'cosineMin' ? value : key === 'cosineMean' ? Math.min(value, 1) : 1),
  top1: top1(key === 'top1Agreement' ? value : 1),
});

const ROWS = Object.entries(DEFAULT_GATES).flatMap(([variant, gate]) =>
  (Object.entries(gate) as [keyof Gate, number][]).map(([key, threshold]) => ({ variant, key, threshold, gate: gate as Gate })),
);

describe('quantization gates', () => {
  it('the defaults are the documented ones (int8: mean 0.99, min 0.97, top-1 97 %; fp16: mean 0.9995; q4: mean 0.98)', () => {
    // These three as docs/quantization.md states them; a precision added later brings its own row (PRECISION_TABLE).
    expect(DEFAULT_GATES).toMatchObject({
      int8: { cosineMean: 0.99, cosineMin: 0.97, top1Agreement: 0.97 },
      fp16: { cosineMean: 0.9995 },
      q4: { cosineMean: 0.98 },
    });
  });

  it.each(ROWS)('$variant gate $key at $threshold: at and just above passes, just below fails naming the gate', ({ variant, key, threshold, gate }) => {
    for (const v of [threshold, threshold + EPS]) {
      const m = measured(key, v);
      expect(checkGate(`${variant} vision`, gate, m.cos, m.top1), `${key} = ${v}`).toEqual([]);
    }
    const m = measured(key, threshold - EPS);
    const fails = checkGate(`${variant} vision`, gate, m.cos, m.top1);
    expect(fails).toHaveLength(1);
    expect(fails[0]).toMatch(new RegExp(`^${variant} vision: .* \\(gate ${key}\\)$`));
    expect(fails[0]).toContain(String(threshold === 0.97 && key === 'top1Agreement' ? '97.0 %' : threshold));
  });

  it('each failure says the measured value, the minimum and the gate', () => {
    expect(checkGate('int8 vision', DEFAULT_GATES.int8, cos(0.98, 0.96), top1(0.95))).toEqual([
      'int8 vision: cosine mean 0.980000 < 0.99 (gate cosineMean)',
      'int8 vision: cosine min 0.960000 < 0.97 (gate cosineMin)',
      'int8 vision: top-1 agreement 95.0 % < 97.0 % (gate top1Agreement)',
    ]);
  });

  it('NaN never passes a gate (an empty or broken measurement fails)', () => {
    expect(checkGate('int8 vision', DEFAULT_GATES.int8, cos(NaN, NaN), top1(NaN))).toHaveLength(3);
  });

  it('top-1 agreement is judged only when there were labelled images; 0 switches a gate off', () => {
    expect(checkGate('int8 text', DEFAULT_GATES.int8, cos(1, 1), undefined)).toEqual([]);
    expect(checkGate('int8 vision', DEFAULT_GATES.int8, cos(1, 1), top1(0, 0))).toEqual([]);
    const off = parseGates('int8.cosineMean=0,int8.cosineMin=0,int8.top1Agreement=0').int8;
    expect(checkGate('int8 vision', off, cos(0.1, 0.1), top1(0.1))).toEqual([]);
  });

  it('parses overrides per variant and key over the defaults, and refuses anything else', () => {
    expect(parseGates('q4.cosineMin=0.9, fp16.top1Agreement=1')).toEqual({
      ...DEFAULT_GATES,
      fp16: { ...DEFAULT_GATES.fp16, top1Agreement: 1 },
      q4: { ...DEFAULT_GATES.q4, cosineMin: 0.9 },
    });
    expect(parseGates(undefined)).toEqual(DEFAULT_GATES);
    expect(parseGates(' , int8.cosineMin=0.5 ,, ').int8.cosineMin).toBe(0.5); // blanks and empty parts are ignored
    for (const bad of ['int4.cosineMean=0.9', 'int8.cosine=0.9', 'int8.cosineMean=1.5', 'int8.cosineMean=-1', 'int8.cosineMean', 'int8.cosineMean=x', 'xint8.cosineMean=0.9', 'int8.cosineMean=0.9x']) {
      expect(() => parseGates(bad), bad).toThrow(
        expect.objectContaining({ code: 'BAD_INPUT', message: `bad gate "${bad}": expected <${VARIANTS}>.<cosineMean|cosineMin|top1Agreement>=<number in 0..1>` }),
      );
    }
  });
});

describe('gate overrides (--gates)', () => {
  it('sets the named keys over the defaults; 0 and 1 are allowed, other keys keep their defaults', () => {
    const g = parseGates(' int8.cosineMin=0.5 , fp16.cosineMean=1,q4.cosineMean=0 ');
    expect(g.int8).toEqual({ ...DEFAULT_GATES.int8, cosineMin: 0.5 });
    expect(g.fp16).toEqual({ cosineMean: 1 });
    expect(g.q4).toEqual({ cosineMean: 0 });
    expect(parseGates(undefined)).toEqual(DEFAULT_GATES);
    expect(parseGates('')).toEqual(DEFAULT_GATES);
  });

  it.each(['int8.cosineMin=1.5', 'int8.bogus=0.5', 'int4.cosineMin=0.5', 'int8.cosineMin', 'cosineMin=0.5', 'int8.cosineMin=-1', 'int8.cosineMin=0..5'])('refuses "%s" naming it and the form', (spec) => {
    expect(() => parseGates(spec)).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringContaining(`bad gate "${spec}": expected <${VARIANTS}>.<`) }));
  });
});
