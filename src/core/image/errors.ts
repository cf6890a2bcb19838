import { ClipEdgeError } from '../errors.ts';

/** Truncated or malformed data: the message says what was wrong, `cause` keeps the codec's error. */
export const corrupt = (format: string, what: string, cause?: unknown): ClipEdgeError =>
  new ClipEdgeError('CORRUPT_IMAGE', `Corrupt ${format} image: ${what}`, cause === undefined ? undefined : { cause });

export const unsupported = (what: string, details?: Record<string, unknown>): ClipEdgeError =>
  new ClipEdgeError('UNSUPPORTED_IMAGE', what, details ? { details } : undefined);
