import { ClipEdgeError } from '../../core/errors.ts';
import { type ServiceConfig, configFromEnv } from '../../http/config.ts';
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
}

/** Reads the Worker's vars (invalid values throw a ClipEdgeError naming the variable). */
export function workersConfig(env: WorkersEnv): WorkersConfig {
  const vars: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string') vars[k] = v;
  vars.CLIP_EDGE_API_KEY = env.API_KEY;
  const base = configFromEnv(vars);
  const model = base.model ?? DEFAULT_WORKERS_MODEL;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/.test(model)) {
    throw new ClipEdgeError('BAD_INPUT', `CLIP_EDGE_MODEL must be a folder name like "tiny-clip", got "${model.slice(0, 80)}"`);
  }
  const where = env.CLIP_EDGE_MODEL_SOURCE || (env.MODELS ? 'r2' : 'assets');
  if (where !== 'r2' && where !== 'assets') throw new ClipEdgeError('BAD_INPUT', `CLIP_EDGE_MODEL_SOURCE must be r2 or assets, got "${where}"`);
  const budgetVar = env.CLIP_EDGE_DECODE_BUDGET_MB?.trim() || 'auto';
  const budgetMb = budgetVar === 'auto' ? 0 : Number(budgetVar);
  if (budgetVar !== 'auto' && !(budgetMb > 0 && budgetMb <= 128)) {
    throw new ClipEdgeError('BAD_INPUT', `CLIP_EDGE_DECODE_BUDGET_MB must be auto or a number of MB in (0, 128], got "${budgetVar.slice(0, 40)}"`);
  }
  const bodyMb = env.CLIP_EDGE_BODY_MEMORY_MB?.trim() ? Number(env.CLIP_EDGE_BODY_MEMORY_MB) : WORKERS_DEFAULT_BODY_MEMORY_MB;
  if (!(bodyMb > 0 && bodyMb <= 128)) {
    throw new ClipEdgeError('BAD_INPUT', `CLIP_EDGE_BODY_MEMORY_MB must be a number of MB in (0, 128], got "${String(env.CLIP_EDGE_BODY_MEMORY_MB).slice(0, 40)}"`);
  }
  const scaling = env.CLIP_EDGE_JPEG_SCALING?.trim().toLowerCase() || 'true';
  if (!['true', 'false', '1', '0'].includes(scaling)) {
    throw new ClipEdgeError('BAD_INPUT', `CLIP_EDGE_JPEG_SCALING must be true or false, got "${scaling.slice(0, 40)}"`);
  }
  const inPlace = env.CLIP_EDGE_IN_PLACE?.trim().toLowerCase() || 'true';
  if (!['true', 'false', '1', '0'].includes(inPlace)) {
    throw new ClipEdgeError('BAD_INPUT', `CLIP_EDGE_IN_PLACE must be true or false, got "${inPlace.slice(0, 40)}"`);
  }
  return {
    ...base,
    model,
    inPlace: inPlace === 'true' || inPlace === '1',
    decodeBudgetBytes: budgetVar === 'auto' ? 'auto' : Math.floor(budgetMb * 1024 * 1024),
    bodyMemoryBytes: Math.floor(bodyMb * 1024 * 1024),
    jpegScaling: scaling === 'true' || scaling === '1',
    modelSource: where,
    // Vision-only by default: label sets come from the prompt cache; the text tower is opt-in.
    text: base.text ?? false,
    limits: { maxPixels: WORKERS_DEFAULT_MAX_PIXELS, ...base.limits },
  };
}
