// The one parser of environment variables (process.env, Deno.env, Workers vars): every runtime reads
// its settings through these, so a value means the same everywhere. An empty or unset variable is
// "not set"; an invalid one throws a BAD_INPUT error naming the variable, never silently ignored.
import { ClipEdgeError } from '../core/errors.ts';
import { type Precision, isPrecision } from '../core/precision.ts';

export type EnvRecord = Readonly<Record<string, string | undefined>>;

const valueOf = (v: string | undefined): string | undefined => {
  const t = v?.trim();
  return t === undefined || t === '' ? undefined : t;
};
/**
 * The error for a variable that does not parse: its name and the form it takes, never its value
 * (a secret put in the wrong variable would otherwise reach logs and, on Workers, the CONFIG_INVALID
 * log line). `got` is unused on purpose.
 */
const bad = (name: string, want: string, _got: string) => new ClipEdgeError('BAD_INPUT', `${name} must be ${want} (its value is not shown, in case it is a secret)`);

/** A string, or undefined when unset or empty. */
export const envString = (env: EnvRecord, name: string): string | undefined => env[name] || undefined;

/** `1|true|yes|on` → true, `0|false|no|off` → false (any case). */
export function envBool(env: EnvRecord, name: string): boolean | undefined {
  const v = valueOf(env[name]);
  if (v === undefined) return undefined;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw bad(name, 'true or false', v);
}

/** An integer ≥ min (and ≤ max when given). */
export function envInt(env: EnvRecord, name: string, min: number, max?: number): number | undefined {
  const v = valueOf(env[name]);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || (max !== undefined && n > max)) throw bad(name, max === undefined ? `an integer ≥ ${min}` : `a whole number in [${min}, ${max}]`, v);
  return n;
}

/** A number of MiB in (0, max], or `auto` when `auto` is allowed. */
export function envMegabytes(env: EnvRecord, name: string, o: { max?: number; auto?: boolean } = {}): number | 'auto' | undefined {
  const v = valueOf(env[name]);
  if (v === undefined) return undefined;
  if (o.auto && v.toLowerCase() === 'auto') return 'auto';
  const n = Number(v);
  const range = o.max === undefined ? 'a positive number of MiB' : `a number of MB in (0, ${o.max}]`;
  if (!(n > 0) || !Number.isFinite(n) || (o.max !== undefined && n > o.max)) throw bad(name, o.auto ? `auto or ${range}` : range, v);
  return n;
}

/** `auto` or a precision (fp32, fp16, int8, …). */
export function envVariant(env: EnvRecord, name: string): Precision | 'auto' | undefined {
  const v = valueOf(env[name]);
  if (v === undefined) return undefined;
  if (v !== 'auto' && !isPrecision(v)) throw bad(name, 'auto or a precision (fp32, fp16, int8, …)', v);
  return v;
}

/** One of a fixed set of words. */
export function envOneOf<T extends string>(env: EnvRecord, name: string, words: readonly T[]): T | undefined {
  const v = valueOf(env[name]);
  if (v === undefined) return undefined;
  if (!(words as readonly string[]).includes(v)) throw bad(name, words.join(' or '), v);
  return v as T;
}
