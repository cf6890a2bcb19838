import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClipEdgeError } from '../core/errors.ts';
import { causeOf, headersFor, expectedBytes, fileUrl, hashFile, type IdleTimer, idleTimer, isResumable, rangeStart, request, statusError, totalOf } from './http.ts';
import { type Claim, type Entry } from './listing.ts';
import { type PulledFile, type ResolvedPullOptions, type VerifiedBy } from './options.ts';

/** One file of `pull`: streamed into `<file>.partial` (resumed with Range), hashed while it streams, checked, renamed. */

export type Totals = { received: number; bytes: number };

export async function pullFile(o: ResolvedPullOptions, dir: string, entry: Entry, totals: Totals): Promise<PulledFile> {
  const final = resolve(dir, ...entry.path.split('/'));
  if (!final.startsWith(dir + sep)) throw new ClipEdgeError('BAD_INPUT', `refusing to write outside the model folder: ${entry.path}`);
  const verifiedBy: VerifiedBy = entry.claims.some((c) => c.by === 'hub' && c.sha256) ? 'hub'
    : entry.claims.some((c) => c.sha256) ? 'manifest' : 'none';

  const existing = await stat(final).catch(() => undefined);
  if (existing?.isFile() && entry.claims.length > 0 && entry.claims.every((c) => c.bytes === undefined || c.bytes === existing.size)) {
    const sha256 = await hashFile(final, createHash('sha256'));
    if (entry.claims.every((c) => c.sha256 === undefined || c.sha256 === sha256)) {
      totals.received += existing.size;
      return { path: entry.path, bytes: existing.size, sha256, verifiedBy, status: 'skipped' };
    }
  }
  await mkdir(dirname(final), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const before = totals.received;
    try {
      const { bytes, sha256, resumed } = await download(o, entry, final, totals);
      return { path: entry.path, bytes, sha256, verifiedBy, status: resumed ? 'resumed' : 'downloaded' };
    } catch (e) {
      totals.received = before;
      if (!isResumable(e) || attempt >= o.retries) throw e;
      await sleep(200 * (attempt + 1), undefined, { signal: o.signal }).catch(() => o.signal?.throwIfAborted());
    }
  }
}

/** One attempt: continue `<file>.partial` (or start it), verify, rename into place. */
export async function download(o: ResolvedPullOptions, entry: Entry, final: string, totals: Totals) {
  const partial = `${final}.partial`;
  const url = fileUrl(o, entry.path);
  const want = expectedBytes(entry);
  let offset = (await stat(partial).catch(() => undefined))?.size ?? 0;
  if (want !== undefined && offset > want) offset = 0;
  let hash = createHash('sha256');
  if (offset > 0) await hashFile(partial, hash);

  const idle = idleTimer(o);
  try {
    if (offset > 0 && offset === want) {
      // Complete but never renamed (the process died between the last byte and the rename).
      const sha256 = hash.digest('hex');
      verify(entry, offset, sha256);
      await rename(partial, final);
      totals.received += offset;
      return { bytes: offset, sha256, resumed: true };
    }
    const get = (from: number) => request(o, url, {
      headers: { ...headersFor(o, url), ...(from > 0 && { range: `bytes=${from}-` }) },
    }, async (res) => res, { idle, path: entry.path });
    let res = await get(offset);
    if (offset > 0 && !(res.status === 206 && rangeStart(res) === offset)) {
      if (res.status !== 200) { // 416, or not the range asked for: start over
        await res.body?.cancel();
        res = await get(0);
      }
      offset = 0; // (a 200 is the whole file: the server ignored Range)
      hash = createHash('sha256');
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw statusError(o, res.status, url, entry.path, res.headers.get('x-error-code'));
    }
    const total = want ?? totalOf(res, offset);
    o.emit({ type: 'file-start', path: entry.path, bytes: total, offset });
    totals.received += offset;
    const received = await streamTo(o, res, partial, offset, hash, idle, url, entry.path, (n, chunk) => {
      totals.received += chunk;
      if (total !== undefined && n > total) throw mismatch(entry.path, 'size', `${total} bytes`, `more than ${total} bytes`, 'hub');
      o.emit({ type: 'file-progress', path: entry.path, received: n, bytes: total, totalReceived: totals.received, totalBytes: totals.bytes });
    });
    if (total !== undefined && received < total) {
      throw new ClipEdgeError('NETWORK', `download of ${entry.path} from ${url} ended after ${received} of ${total} bytes; pull again to resume`,
        { details: { resumable: true, url, file: entry.path } });
    }
    const sha256 = hash.digest('hex');
    verify(entry, received, sha256);
    await rename(partial, final);
    return { bytes: received, sha256, resumed: offset > 0 };
  } catch (e) {
    if (e instanceof ClipEdgeError && e.code === 'INTEGRITY_MISMATCH') await rm(partial, { force: true });
    throw e;
  } finally {
    idle.clear();
  }
}

/** Appends the body to `partial`, hashing as it goes; a broken connection is a resumable NETWORK error. */
export async function streamTo(
  o: ResolvedPullOptions, res: Response, partial: string, offset: number, hash: Hash, idle: IdleTimer,
  url: string, path: string, onChunk: (received: number, chunk: number) => void,
): Promise<number> {
  if (!res.body) return offset;
  const reader = res.body.getReader();
  const fh = await open(partial, offset > 0 ? 'a' : 'w');
  let received = offset;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        o.signal?.throwIfAborted();
        const why = idle.timedOut ? `no data for ${o.idleTimeoutMs / 1000}s` : `connection lost (${causeOf(e)})`;
        throw new ClipEdgeError('NETWORK', `download of ${path} from ${url} stopped after ${received} bytes: ${why}; pull again to resume`,
          { cause: e, details: { resumable: true, url, file: path } });
      }
      if (chunk.done) return received;
      idle.touch();
      received += chunk.value.byteLength;
      onChunk(received, chunk.value.byteLength);
      hash.update(chunk.value);
      await fh.write(chunk.value);
    }
  } finally {
    await reader.cancel().catch(() => {});
    await fh.close();
  }
}

export function verify(entry: Entry, bytes: number, sha256: string): void {
  for (const c of entry.claims) {
    if (c.bytes !== undefined && c.bytes !== bytes) throw mismatch(entry.path, 'size', `${c.bytes} bytes`, `${bytes} bytes`, c.by);
    if (c.sha256 !== undefined && c.sha256 !== sha256) throw mismatch(entry.path, 'sha256', c.sha256, sha256, c.by);
  }
}

export const mismatch = (path: string, what: 'size' | 'sha256', expected: string, actual: string, by: Claim['by']) =>
  new ClipEdgeError('INTEGRITY_MISMATCH',
    `${path}: ${what} mismatch, expected ${expected} (from ${by}), got ${actual}; the download was deleted`,
    { details: { file: path, what, expected, actual, by } });
