/**
 * The one error type of clip-edge. Every failure the kit can explain carries a
 * code; the HTTP layer maps codes to status in one place (`STATUS_OF`, src/http/errors.ts).
 */
export type ClipEdgeErrorCode =
  | 'BAD_INPUT'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'IMAGE_TOO_LARGE'
  | 'UNSUPPORTED_IMAGE'
  | 'CORRUPT_IMAGE'
  | 'TOO_MANY_LABELS'
  | 'UNKNOWN_LABEL_SET'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_INVALID'
  | 'INTEGRITY_MISMATCH'
  | 'BACKEND_UNAVAILABLE'
  | 'TEXT_ENCODER_UNAVAILABLE'
  | 'TEXT_ENCODER_DOWN'
  | 'VISION_TOWER_DOWN'
  | 'OVERLOADED'
  | 'TIMEOUT'
  | 'CANCELLED'
  | 'RATE_LIMITED'
  | 'NETWORK'
  | 'INDEX_MISMATCH'
  | 'INDEX_UNAVAILABLE'
  | 'CONFIG_INVALID'
  | 'INTERNAL';

export class ClipEdgeError extends Error {
  override readonly name = 'ClipEdgeError';
  readonly code: ClipEdgeErrorCode;
  /** Extra machine-readable detail (never paths or stack traces). */
  readonly details?: Record<string, unknown>;

  constructor(
    code: ClipEdgeErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.details) this.details = options.details;
  }
}

export const isClipEdgeError = (e: unknown): e is ClipEdgeError => e instanceof ClipEdgeError;
