import { ClipEdgeError } from '../../src/core/errors.ts';
import { PRECISION_TABLE } from '../../src/core/precision.ts';
import { isQuantVariant, QUANT_VARIANTS, type QuantVariant } from '../pipeline.ts';
import type { CosineStats, Top1Stats } from './metrics.ts';

/** Minimums a variant must reach against float32, on every tower it is written for. */
export interface Gate {
  cosineMean?: number;
  cosineMin?: number;
  top1Agreement?: number;
}

/** The gates of the shared precision table (src/core/precision.ts). */
export const DEFAULT_GATES: Readonly<Record<QuantVariant, Readonly<Gate>>> = Object.freeze(
  Object.fromEntries(QUANT_VARIANTS.map((v) => [v, Object.freeze({ ...PRECISION_TABLE[v].gate })])) as Record<QuantVariant, Readonly<Gate>>,
);

const GATE_KEYS = ['cosineMean', 'cosineMin', 'top1Agreement'] as const;

/**
 * Parses gate overrides, `int8.cosineMin=0.95,fp16.cosineMean=0.999` (0 switches a gate off),
 * over the defaults.
 */
export function parseGates(spec: string | undefined): Record<QuantVariant, Gate> {
  const gates = Object.fromEntries(QUANT_VARIANTS.map((v) => [v, { ...DEFAULT_GATES[v] }])) as Record<QuantVariant, Gate>;
  for (const part of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\w+)\.(\w+)=([0-9.]+)$/.exec(part);
    const key = m?.[2] as (typeof GATE_KEYS)[number] | undefined;
    const value = Number(m?.[3]);
    if (!m || !isQuantVariant(m[1]!) || !key || !GATE_KEYS.includes(key) || !(value >= 0 && value <= 1)) {
      throw new ClipEdgeError('BAD_INPUT', `bad gate "${part}": expected <${QUANT_VARIANTS.join('|')}>.<${GATE_KEYS.join('|')}>=<number in 0..1>`);
    }
    gates[m[1] as QuantVariant][key] = value;
  }
  return gates;
}

/** Failed gates, each naming the gate, the measured value and the minimum. */
export function checkGate(label: string, gate: Gate, cos: CosineStats, top1: Top1Stats | undefined): string[] {
  const fails: string[] = [];
  const f = (x: number) => x.toFixed(6);
  if (gate.cosineMean && !(cos.mean >= gate.cosineMean)) fails.push(`${label}: cosine mean ${f(cos.mean)} < ${gate.cosineMean} (gate cosineMean)`);
  if (gate.cosineMin && !(cos.min >= gate.cosineMin)) fails.push(`${label}: cosine min ${f(cos.min)} < ${gate.cosineMin} (gate cosineMin)`);
  if (gate.top1Agreement && top1 && top1.n > 0 && !(top1.agreement >= gate.top1Agreement)) {
    fails.push(`${label}: top-1 agreement ${(top1.agreement * 100).toFixed(1)} % < ${(gate.top1Agreement * 100).toFixed(1)} % (gate top1Agreement)`);
  }
  return fails;
}
