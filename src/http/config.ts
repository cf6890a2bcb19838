import type { ClipLimits } from '../core/clip.ts';
import { parseApiKeys } from './auth.ts';
import type { Precision } from '../core/precision.ts';
import { type EnvRecord, envBool, envInt, envMegabytes, envOneOf, envString, envVariant } from './env.ts';

/** Service settings that every runtime reads from its environment (process.env, Deno.env, Workers vars). */
export interface ServiceConfig {
  /** Model folder (Node/Deno/Bun) or model id (Workers). `CLIP_EDGE_MODEL` */
  model?: string;
  /** `CLIP_EDGE_BACKEND`: auto | node | wasm | webgpu */
  backend?: string;
  /** `CLIP_EDGE_VARIANT`: auto | fp32 | fp16 | int8 | … (vision tower) */
  visionVariant?: Precision | 'auto';
  /** `CLIP_EDGE_TEXT_VARIANT` */
  textVariant?: Precision | 'auto';
  /** `CLIP_EDGE_TEXT=0` deploys the vision tower alone (label sets only). */
  text?: boolean;
  /** `CLIP_EDGE_THREADS` */
  threads?: number;
  /** `CLIP_EDGE_MAX_BATCH`: most queued images (or prompts) run together; 1 turns micro-batching off. */
  maxBatch?: number;
  /** `CLIP_EDGE_API_KEY`: bearer key(s) required on every route but /healthz; several separated by commas. */
  apiKey?: string | string[];
  /** `CLIP_EDGE_CORS_ORIGINS`: `*` or a comma-separated list. */
  corsOrigins?: string | string[];
  /** `CLIP_EDGE_MAX_BODY_BYTES` */
  maxBodyBytes?: number;
  /** `CLIP_EDGE_MAX_IN_FLIGHT`: POST requests at work at once before 503 OVERLOADED. */
  maxInFlight?: number;
  /** `CLIP_EDGE_REQUEST_TIMEOUT_MS`: deadline per request (0: none) before 503 TIMEOUT. */
  requestTimeoutMs?: number;
  /** `CLIP_EDGE_RATE_LIMIT`: requests per minute per API key (or per client without keys) before 429. */
  rateLimitPerMinute?: number;
  /** `CLIP_EDGE_REQUEST_LOG=0` turns off the one-line-per-request log (method, path, status, ms, bytes). @defaultValue true */
  requestLog?: boolean;
  /** `PORT` (default 8787) and `HOST` (default 127.0.0.1) */
  port?: number;
  host?: string;
  /** `CLIP_EDGE_MAX_PIXELS`, `CLIP_EDGE_MAX_LABELS`, `CLIP_EDGE_MAX_TEXTS`, `CLIP_EDGE_MAX_TEXT_LENGTH` */
  limits?: Partial<ClipLimits>;
  /**
   * `CLIP_EDGE_DECODE_BUDGET_MB`: memory (MiB) that image decodes at work at once may hold; each
   * decode reserves its estimate first and waits for room; one that could never fit gets 413.
   * `auto`: the runtime's default (Node, Deno, Bun: 1024; Workers: what the isolate has left).
   */
  decodeBudgetMb?: number | 'auto';
  /** `CLIP_EDGE_DECODE_THREADS`: threads that decode images off the event loop (Node, Deno, Bun); 0 decodes on the main thread. */
  decodeThreads?: number;
  /** `CLIP_EDGE_INFERENCE_THREAD=0` runs inference on the main thread (Node, Deno, Bun; default: in a worker thread, off the event loop). */
  inferenceThread?: boolean;
  /** `CLIP_EDGE_THREAD_NICE`: nice steps (0–19) below the event loop for the decode and inference threads (Linux: Node, Bun). @defaultValue 0 */
  threadNice?: number;
}

const apiKeys = (v: string | undefined): string | string[] | undefined => {
  const keys = parseApiKeys(v ?? '');
  return keys.length === 0 ? undefined : keys.length === 1 ? keys[0] : keys;
};

/** The backends CLIP_EDGE_BACKEND names (a kit built in code may register others). */
const BACKEND_WORDS = ['auto', 'node', 'wasm', 'webgpu'] as const;

/** Reads settings from an environment record; invalid values are errors, never silently ignored. */
export function configFromEnv(env: EnvRecord): ServiceConfig {
  const cors = env.CLIP_EDGE_CORS_ORIGINS;
  const limits: Partial<ClipLimits> = {};
  const maxPixels = envInt(env, 'CLIP_EDGE_MAX_PIXELS', 1);
  const maxLabels = envInt(env, 'CLIP_EDGE_MAX_LABELS', 1);
  const maxTexts = envInt(env, 'CLIP_EDGE_MAX_TEXTS', 1);
  const maxTextLength = envInt(env, 'CLIP_EDGE_MAX_TEXT_LENGTH', 1);
  if (maxPixels !== undefined) limits.maxPixels = maxPixels;
  if (maxLabels !== undefined) limits.maxLabels = maxLabels;
  if (maxTexts !== undefined) limits.maxTexts = maxTexts;
  if (maxTextLength !== undefined) limits.maxTextLength = maxTextLength;
  const cfg: ServiceConfig = {
    model: envString(env, 'CLIP_EDGE_MODEL'),
    // One of its words, checked here: an unknown name was echoed later ("no backend named …"), a secret set in it too.
    backend: envOneOf(env, 'CLIP_EDGE_BACKEND', BACKEND_WORDS),
    visionVariant: envVariant(env, 'CLIP_EDGE_VARIANT'),
    textVariant: envVariant(env, 'CLIP_EDGE_TEXT_VARIANT'),
    text: envBool(env, 'CLIP_EDGE_TEXT'),
    threads: envInt(env, 'CLIP_EDGE_THREADS', 1),
    maxBatch: envInt(env, 'CLIP_EDGE_MAX_BATCH', 1),
    apiKey: apiKeys(env.CLIP_EDGE_API_KEY),
    corsOrigins: cors ? (cors.trim() === '*' ? '*' : cors.split(',').map((s) => s.trim()).filter(Boolean)) : undefined,
    maxBodyBytes: envInt(env, 'CLIP_EDGE_MAX_BODY_BYTES', 1),
    maxInFlight: envInt(env, 'CLIP_EDGE_MAX_IN_FLIGHT', 1),
    requestTimeoutMs: envInt(env, 'CLIP_EDGE_REQUEST_TIMEOUT_MS', 0),
    rateLimitPerMinute: envInt(env, 'CLIP_EDGE_RATE_LIMIT', 1),
    requestLog: envBool(env, 'CLIP_EDGE_REQUEST_LOG'),
    port: envInt(env, 'PORT', 0),
    host: envString(env, 'HOST'),
    limits: Object.keys(limits).length ? limits : undefined,
    decodeBudgetMb: envMegabytes(env, 'CLIP_EDGE_DECODE_BUDGET_MB', { auto: true }),
    decodeThreads: envInt(env, 'CLIP_EDGE_DECODE_THREADS', 0),
    inferenceThread: envBool(env, 'CLIP_EDGE_INFERENCE_THREAD'),
    threadNice: envInt(env, 'CLIP_EDGE_THREAD_NICE', 0, 19),
  };
  return Object.fromEntries(Object.entries(cfg).filter(([, v]) => v !== undefined)) as ServiceConfig;
}
