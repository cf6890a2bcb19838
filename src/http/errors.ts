import type { ClipEdgeErrorCode } from '../core/errors.ts';

/** The one place where error codes become HTTP statuses. */
export const STATUS_OF: Readonly<Record<ClipEdgeErrorCode, number>> = Object.freeze({
  BAD_INPUT: 400,
  CORRUPT_IMAGE: 400,
  TOO_MANY_LABELS: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  UNKNOWN_LABEL_SET: 404,
  PAYLOAD_TOO_LARGE: 413,
  IMAGE_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNSUPPORTED_IMAGE: 415,
  TEXT_ENCODER_UNAVAILABLE: 422,
  // The text tower runs elsewhere (the text Worker) and failed or did not answer: cached labels still work.
  TEXT_ENCODER_DOWN: 503,
  // The vision tower runs split across part Workers and one of them failed, did not answer or is not bound.
  VISION_TOWER_DOWN: 503,
  OVERLOADED: 503,
  TIMEOUT: 503,
  RATE_LIMITED: 429,
  // nginx's "client closed request": nobody reads it, but logs and tests can tell it apart.
  CANCELLED: 499,
  INTERNAL: 500,
  MODEL_NOT_FOUND: 500,
  MODEL_INVALID: 500,
  INTEGRITY_MISMATCH: 500,
  BACKEND_UNAVAILABLE: 503,
  NETWORK: 502,
  // The search index holds another model's vectors (or another size): the request conflicts with its state.
  INDEX_MISMATCH: 409,
  // No index configured, or its driver (e.g. @lancedb/lancedb) is not installed.
  INDEX_UNAVAILABLE: 503,
  // The deployment's own settings are wrong (a Worker var that does not parse): a server fault, the
  // message names the setting so the operator can fix it.
  CONFIG_INVALID: 500,
});

/**
 * Errors that shed load: their message is for the client, they carry Retry-After (app.onError sets
 * it, the OpenAPI document declares it), and they are not server faults to log.
 */
export const SHED_CODES: ReadonlySet<ClipEdgeErrorCode> = new Set<ClipEdgeErrorCode>(['OVERLOADED', 'TIMEOUT', 'RATE_LIMITED', 'CANCELLED', 'TEXT_ENCODER_DOWN', 'VISION_TOWER_DOWN']);

/**
 * Retry-After for a BACKEND_UNAVAILABLE whose error does not say when (no backend could start; or
 * the inference thread stays down until the process restarts, which a supervisor does in seconds).
 * A crash it restarts from says its own: the restart policy's back-off (inference-thread.ts).
 */
export const DEFAULT_BACKEND_RETRY_AFTER_SECONDS = 5;

/** Codes whose answers carry Retry-After: the shed codes, and a backend that crashed or could not start. */
export const RETRY_AFTER_CODES: ReadonlySet<ClipEdgeErrorCode> = new Set<ClipEdgeErrorCode>([...SHED_CODES, 'BACKEND_UNAVAILABLE']);

/**
 * The Retry-After seconds of an error's answer (its `details.retryAfterSeconds`, else the code's default), or
 * undefined for none: also for an error that says `details.permanent` (a retry gets the same answer until the
 * process is reconfigured, e.g. in-place loading on an onnxruntime-web that no longer allows it).
 */
export function retryAfterOf(code: ClipEdgeErrorCode, details?: Readonly<Record<string, unknown>>): number | undefined {
  if (!RETRY_AFTER_CODES.has(code) || details?.permanent === true) return undefined;
  const said = Number(details?.retryAfterSeconds);
  if (Number.isFinite(said) && said >= 1) return Math.ceil(said);
  return code === 'BACKEND_UNAVAILABLE' ? DEFAULT_BACKEND_RETRY_AFTER_SECONDS : 1;
}

/**
 * A request path as error messages quote it: at most `max` characters, so that a 13 KB path is not
 * echoed back (or into logs) whole.
 */
export const quotedPath = (pathname: string, max = 120): string =>
  pathname.length <= max ? pathname : `${pathname.slice(0, max)}… (${pathname.length} characters)`;
