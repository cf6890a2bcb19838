import { type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ClipEdgeError } from '../core/errors.ts';
import { type Entry } from './listing.ts';
import { type ResolvedPullOptions, SHA256 } from './options.ts';

/** HTTP to the hub for `pull`: file URLs, auth headers, requests with an idle timeout, status → ClipEdgeError. */

export const fileUrl = (o: ResolvedPullOptions, path: string): string =>
  `${o.baseUrl}/${o.repo}/resolve/${encodeURIComponent(o.revision)}/${path.split('/').map(encodeURIComponent).join('/')}`;

/** The token only goes to the hub itself, never to the CDN it redirects to (fetch drops it cross-origin too). */
export function headersFor(o: ResolvedPullOptions, url: string): Record<string, string> {
  const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'clip-edge' };
  if (o.token && new URL(url).origin === new URL(o.baseUrl).origin) headers.authorization = `Bearer ${o.token}`;
  return headers;
}

/** A 404 that huggingface.co marks as a missing repo or revision (not a missing file). */
export const isRepoLevel404 = (res: Response): boolean =>
  res.status === 404 && /^(RepoNotFound|RevisionNotFound)$/.test(res.headers.get('x-error-code') ?? '');

/**
 * One request under the idle timeout. `read` sees every response and returns a value, or
 * `undefined` to have the status turned into a ClipEdgeError. Transport failures become NETWORK.
 */
export async function request<T>(
  o: ResolvedPullOptions, url: string, init: RequestInit, read: (res: Response) => Promise<T | undefined>,
  { idle, path }: { idle?: IdleTimer; path?: string } = {},
): Promise<T> {
  const timer = idle ?? idleTimer(o);
  try {
    let res: Response;
    try {
      res = await o.fetch(url, { ...init, signal: timer.signal });
    } catch (e) {
      o.signal?.throwIfAborted();
      const why = timer.timedOut ? `no response for ${o.idleTimeoutMs / 1000}s` : causeOf(e);
      throw new ClipEdgeError('NETWORK', `could not reach ${url}: ${why}`, { cause: e, details: { url } });
    }
    const value = await read(res);
    if (value !== undefined) return value;
    await res.body?.cancel().catch(() => {});
    throw statusError(o, res.status, url, path, res.headers.get('x-error-code'));
  } finally {
    if (!idle) timer.clear();
  }
}

export async function readText(o: ResolvedPullOptions, res: Response, url: string): Promise<string | undefined> {
  if (!res.ok) return undefined;
  try {
    return await res.text();
  } catch (e) {
    o.signal?.throwIfAborted();
    throw new ClipEdgeError('NETWORK', `reading ${url} failed: ${causeOf(e)}`, { cause: e, details: { url } });
  }
}

/** HTTP status → error code, in one place. Messages name the URL, never the token. */
export function statusError(o: ResolvedPullOptions, status: number, url: string, path?: string, errorCode?: string | null): ClipEdgeError {
  const where = `${o.repo}@${o.revision}`;
  const details = { status, url, repo: o.repo, revision: o.revision, ...(path && { file: path }) };
  if (status === 401 || status === 403) {
    const hint = o.token ? 'the token in use (HF_TOKEN) has no access to it' : 'set HF_TOKEN to a token with access to it';
    return new ClipEdgeError('UNAUTHORIZED', `HTTP ${status} from ${url}: ${where} is private, gated or does not exist; ${hint}`, { details });
  }
  if (status === 404) {
    const what = errorCode === 'RepoNotFound' ? `repo ${o.repo} not found`
      : errorCode === 'RevisionNotFound' ? `revision ${o.revision} of ${o.repo} not found`
      : path ? `${path} not found in ${where}` : `${where} not found`;
    return new ClipEdgeError('MODEL_NOT_FOUND', `${what} on ${o.baseUrl} (HTTP 404 from ${url})`, { details });
  }
  return new ClipEdgeError('NETWORK', `HTTP ${status} from ${url}`, { details });
}

export interface IdleTimer {
  signal: AbortSignal;
  touch(): void;
  clear(): void;
  readonly timedOut: boolean;
}

/** Aborts when nothing arrives for `idleTimeoutMs` (a whole-download timeout would kill big files). */
export function idleTimer(o: ResolvedPullOptions): IdleTimer {
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort(new ClipEdgeError('NETWORK', 'idle timeout'));
  }, o.idleTimeoutMs);
  return {
    signal: o.signal ? AbortSignal.any([o.signal, ctl.signal]) : ctl.signal,
    touch: () => void timer.refresh(),
    clear: () => clearTimeout(timer),
    get timedOut() {
      return timedOut;
    },
  };
}

// ---------------------------------------------------------------- small helpers

export const isResumable = (e: unknown): boolean =>
  e instanceof ClipEdgeError && e.code === 'NETWORK' && e.details?.resumable === true;

export function expectedBytes(e: Entry): number | undefined {
  return e.claims.find((c) => c.bytes !== undefined)?.bytes;
}

export function asSize(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** An ETag is a sha256 only when it is 64 hex digits (huggingface.co's non-LFS ETags are git sha1s). */
export function sha256Of(etag: string | null): string | undefined {
  const v = etag?.replace(/^W\//, '').replaceAll('"', '').toLowerCase();
  return v && SHA256.test(v) ? v : undefined;
}

export function rangeStart(res: Response): number | undefined {
  const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : undefined;
}

export function totalOf(res: Response, offset: number): number | undefined {
  if (res.status === 206) return asSize(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1]);
  const length = res.headers.get('content-encoding') ? undefined : asSize(res.headers.get('content-length'));
  return length === undefined ? undefined : length + offset;
}

export function causeOf(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown; errors?: { code?: unknown }[] } })?.cause;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  if (typeof code === 'string') return code;
  if (typeof cause?.message === 'string') return cause.message;
  return e instanceof Error ? e.message : String(e);
}

export function hashFile(path: string, hash: Hash): Promise<string> {
  return new Promise((ok, fail) => {
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', fail)
      .on('end', () => ok(hash.copy().digest('hex')));
  });
}
