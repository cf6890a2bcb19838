// One writing process per LanceDB table in a local folder. LanceDB 0.31 commits atomically from
// several processes (a commit never corrupts the folder), but it does not keep ids unique across
// them: two processes merge-inserting the same new id both insert it (lancedb/lancedb#3377), and
// maintenance (deleting files of old versions) assumes no other writer. So the first write of a
// process takes a lock file beside the table, `<table>.clip-edge.lock`, holding its pid; a second
// process's write is refused with a clear error, its reads go on. A lock left by a process that
// died (kill -9) is taken over when that pid no longer runs on this machine. Within a process,
// indexes opened on the same table share the lock and commit one at a time (writerOf).
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { ClipEdgeError } from '../../core/errors.ts';

interface Holder {
  pid: number;
  host: string;
  since: string;
  command: string;
}

export interface WriterLock {
  readonly path: string;
  release(): void;
}

/** This process's right to write one table: shared by the indexes open on it. */
export interface TableWriter {
  /** Whether the lock file is held (a local folder), so that no other process writes. */
  readonly exclusive: boolean;
  /** Runs `commit` after the commits of every other index of this table in this process. */
  serial<T>(commit: () => Promise<T>): Promise<T>;
  /** Whether another index of this process writes this table too (its handle may lag). */
  shared(): boolean;
  release(): void;
}

const writers = new Map<string, { lock: WriterLock | undefined; refs: number; chain: Promise<unknown> }>();

/** Takes (or joins) this process's writer of `table` at `uri`; throws INDEX_UNAVAILABLE when another process holds it. */
export function writerOf(uri: string, table: string): TableWriter {
  const folder = localFolder(uri);
  const key = `${folder === undefined ? uri : path.resolve(folder)}\0${table}`;
  let entry = writers.get(key);
  if (!entry) {
    entry = { lock: folder === undefined ? undefined : lockWriter(folder, table), refs: 0, chain: Promise.resolve() };
    writers.set(key, entry);
  }
  const e = entry;
  e.refs++;
  let held = true;
  return {
    exclusive: e.lock !== undefined,
    serial<T>(commit: () => Promise<T>) {
      const run = e.chain.then(commit, commit);
      e.chain = run.catch(() => {});
      return run;
    },
    shared: () => e.refs > 1,
    release() {
      if (!held) return;
      held = false;
      if (--e.refs > 0) return;
      writers.delete(key);
      e.lock?.release();
    },
  };
}

/** A local folder's path, or undefined for object storage (s3://, gs://, az://): no lock there. */
export function localFolder(uri: string): string | undefined {
  if (uri.startsWith('file://')) return fileURLToPath(uri); // decoded: %20 is a space in the folder's name
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) ? undefined : uri;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM'; // runs, under another user
  }
};

const read = (file: string): Holder | undefined => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Holder;
  } catch {
    return undefined; // gone, or half-written by a process that died while writing it
  }
};

function refuse(file: string, h: Holder | undefined): never {
  const who = h ? `process ${h.pid} on ${h.host} (since ${h.since}: ${h.command})` : 'another process';
  throw new ClipEdgeError(
    'INDEX_UNAVAILABLE',
    `${who} writes to this index; one process writes to a folder at a time (others may read). Stop it, or delete ${file} if it no longer runs`,
    { details: { reason: 'locked', ...(h ? { pid: h.pid } : {}) } },
  );
}

/** Takes the writer lock of `table` in `folder`, or throws INDEX_UNAVAILABLE naming the holder. */
function lockWriter(folder: string, table: string): WriterLock {
  const file = path.join(folder, `${table}.clip-edge.lock`);
  const me: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command: process.argv.slice(1).join(' ').slice(0, 200) };
  // Written whole under a private name, then linked into place: link fails if the lock exists, so
  // a reader never sees a half-written lock and two takers cannot both win.
  const mine = `${file}.${process.pid}.${Date.now()}`;
  try {
    writeFileSync(mine, JSON.stringify(me));
  } catch (e) {
    throw new ClipEdgeError('INDEX_UNAVAILABLE', `cannot take the writer lock ${file}: ${(e as Error).message}`, { cause: e });
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(mine, file);
        break;
      } catch (e) {
        if ((e as { code?: string }).code !== 'EEXIST') throw e;
      }
      const h = read(file);
      // Our own pid in a lock this process does not hold (writerOf asks only then) is an earlier
      // process's: a restarted container runs its server under the same pid and hostname again.
      if (attempt >= 3 || (h && (h.host !== me.host || (h.pid !== me.pid && alive(h.pid))))) refuse(file, h);
      // Stale: moved aside under our own name (only one taker's rename finds it), then checked
      // again in case a live process replaced it meanwhile.
      const aside = `${mine}.stale`;
      try {
        renameSync(file, aside);
      } catch {
        continue; // another taker moved it first: try the link again
      }
      const moved = read(aside);
      if (moved && moved.pid !== h?.pid) {
        // A live lock: put it back, unless a third taker linked its own meanwhile (link, unlike
        // rename, never replaces a file): then that one holds it, and this one steps back.
        try {
          linkSync(aside, file);
        } finally {
          unlinkSync(aside);
        }
        refuse(file, moved);
      }
      unlinkSync(aside);
    }
  } catch (e) {
    if (e instanceof ClipEdgeError) throw e;
    throw new ClipEdgeError('INDEX_UNAVAILABLE', `cannot take the writer lock ${file}: ${(e as Error).message}`, { cause: e });
  } finally {
    unlinkSync(mine);
  }
  const onExit = () => release();
  process.on('exit', onExit);
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', onExit);
    if (read(file)?.pid === me.pid) unlinkSync(file);
  };
  return { path: file, release };
}
