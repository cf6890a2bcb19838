import { ClipEdgeError } from '../../core/errors.ts';
import { type ServiceConfig, configFromEnv } from '../../http/config.ts';
import { envBool, envInt, envMegabytes, envOneOf } from '../../http/env.ts';
import type { WorkersEnv } from './bindings.ts';
import { WORKERS_DEFAULT_BODY_MEMORY_MB, WORKERS_DEFAULT_MAX_PIXELS } from './limits.ts';

/** The model served when `CLIP_EDGE_MODEL` is unset: the bundled demonstration model, uploaded with `npm run workers:upload`. */
export const DEFAULT_WORKERS_MODEL = 'tiny-clip';


/** Settings of a Worker, read from its vars and secrets once per isolate. */
export interface WorkersConfig extends ServiceConfig {
  model: string;
  modelSource: 'r2' | 'assets';
  text: boolean;
  /** Bytes one image decode may hold (CLIP_EDGE_DECODE_BUDGET_MB), or `auto`: what the isolate has left once the model is loaded. */
  decodeBudgetBytes: number | 'auto';
  /** Bytes of image request bodies held at once (CLIP_EDGE_BODY_MEMORY_MB). */
  bodyMemoryBytes: number;
  /** DCT-scaled JPEG decoding for images over the budget (CLIP_EDGE_JPEG_SCALING). */
  jpegScaling: boolean;
  /** Load ORT-format variants in place when the manifest lists them (CLIP_EDGE_IN_PLACE). */
  inPlace: boolean;
  /** The Rate Limiting binding's period in seconds (CLIP_EDGE_RATE_LIMIT_PERIOD). @defaultValue 60 */
  ratePeriodSeconds: number;
}

/** Reads the Worker's vars (invalid values throw a ClipEdgeError naming the variable). */
export function workersConfig(env: WorkersEnv): WorkersConfig {
  const vars: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string') vars[k] = v;
  vars.CLIP_EDGE_API_KEY = env.API_KEY;
  const base = configFromEnv(vars);
  const model = base.model ?? DEFAULT_WORKERS_MODEL;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/.test(model)) {
    throw new ClipEdgeError('BAD_INPUT', `CLIP_EDGE_MODEL must be a folder name like "tiny-clip" (letters, digits, . _ - and / between folders; its value is not shown, in case it is a secret)`);
  }
  const where = envOneOf(vars, 'CLIP_EDGE_MODEL_SOURCE', ['r2', 'assets'] as const) ?? (env.MODELS ? 'r2' : 'assets');
  const budgetMb = envMegabytes(vars, 'CLIP_EDGE_DECODE_BUDGET_MB', { auto: true, max: 128 }) ?? 'auto';
  const bodyMb = (envMegabytes(vars, 'CLIP_EDGE_BODY_MEMORY_MB', { max: 128 }) as number | undefined) ?? WORKERS_DEFAULT_BODY_MEMORY_MB; // no auto: a number
  return {
    ...base,
    model,
    inPlace: envBool(vars, 'CLIP_EDGE_IN_PLACE') ?? true,
    decodeBudgetBytes: budgetMb === 'auto' ? 'auto' : Math.floor(budgetMb * 1024 * 1024),
    bodyMemoryBytes: Math.floor(bodyMb * 1024 * 1024),
    // Off: exact decodes fit now that images are streamed; DCT scaling only when asked for.
    jpegScaling: envBool(vars, 'CLIP_EDGE_JPEG_SCALING') ?? false,
    ratePeriodSeconds: envInt(vars, 'CLIP_EDGE_RATE_LIMIT_PERIOD', 1) ?? 60,
    modelSource: where,
    // Vision-only by default: label sets come from the prompt cache; the text tower is opt-in.
    text: base.text ?? false,
    limits: { maxPixels: WORKERS_DEFAULT_MAX_PIXELS, ...base.limits },
  };
}
