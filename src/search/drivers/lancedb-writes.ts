// The LanceDB driver's write path: one queue per open table, so that a process commits its writes
// one at a time (LanceDB 0.31 lets two concurrent merge-inserts of a new key both insert it:
// lancedb/lancedb#3377, lance-format/lance#8949), and groups them: requests that arrive within
// `lingerMs` of each other, or while a commit is running, go into one commit. A commit costs a
// version, a manifest and a data file whatever its size, so grouping keeps the folder small.
// Maintenance runs in the same queue (compaction must not race a merge).
import type { CheckedRecord } from '../validate.ts';

/** What the queue commits through (the driver's table). */
export interface WriteStore {
  /** Inserts or replaces the rows by id, in one commit; ids are unique within the call. */
  upsert(rows: CheckedRecord[]): Promise<void>;
  /** Deletes the ids the table holds; returns those it held. */
  delete(ids: string[]): Promise<Set<string>>;
}

export interface WriteQueueOptions {
  /** How long the first write of an idle queue waits for others to join its commit. @defaultValue 2 */
  lingerMs?: number;
  /** Most rows in one commit (a larger call commits alone). @defaultValue 10_000 */
  maxRows?: number;
  /** Told after each commit how many rows it wrote (maintenance counts them). */
  onCommit?: (rows: number) => void;
}

export interface WriteQueue {
  /** Resolves once the rows are committed (with the rows of other calls in the same group). */
  upsert(rows: CheckedRecord[]): Promise<number>;
  /** How many of `ids` were present (an id deleted by two calls in one group counts for the first). */
  delete(ids: string[]): Promise<number>;
  /** Runs `task` alone, between commits (compaction). */
  exclusive<T>(task: () => Promise<T>): Promise<T>;
  /** Resolves when everything queued so far is done. */
  idle(): Promise<void>;
}

type Op =
  | { kind: 'upsert'; rows: CheckedRecord[]; done: (n: number) => void; fail: (e: unknown) => void }
  | { kind: 'delete'; ids: string[]; done: (n: number) => void; fail: (e: unknown) => void }
  | { kind: 'task'; run: () => Promise<void> };

const size = (op: Op) => (op.kind === 'upsert' ? op.rows.length : op.kind === 'delete' ? op.ids.length : 0);

export function createWriteQueue(store: WriteStore, options: WriteQueueOptions = {}): WriteQueue {
  const lingerMs = options.lingerMs ?? 2;
  const maxRows = options.maxRows ?? 10_000;
  const queue: Op[] = [];
  let draining: Promise<void> | undefined;

  /** The next commit: a task alone, or a run of upserts (or of deletes) up to maxRows. */
  const take = (): Op[] => {
    const first = queue.shift()!;
    const group = [first];
    if (first.kind === 'task') return group;
    let rows = size(first);
    while (queue.length && queue[0]!.kind === first.kind && rows + size(queue[0]!) <= maxRows) {
      rows += size(queue[0]!);
      group.push(queue.shift()!);
    }
    return group;
  };

  const commitUpserts = async (group: Extract<Op, { kind: 'upsert' }>[]) => {
    // Last write wins within a group, as it would one commit after another.
    const byId = new Map<string, CheckedRecord>();
    for (const op of group) for (const r of op.rows) byId.set(r.id, r);
    await store.upsert([...byId.values()]);
    options.onCommit?.(byId.size);
    for (const op of group) op.done(op.rows.length);
  };

  const commitDeletes = async (group: Extract<Op, { kind: 'delete' }>[]) => {
    const present = await store.delete([...new Set(group.flatMap((op) => op.ids))]);
    if (present.size) options.onCommit?.(present.size); // nothing found: no commit was made
    for (const op of group) op.done(op.ids.filter((id) => present.delete(id)).length);
  };

  const drain = async () => {
    if (lingerMs > 0) await new Promise((r) => setTimeout(r, lingerMs));
    while (queue.length) {
      const group = take();
      const first = group[0]!;
      if (first.kind === 'task') {
        await first.run();
        continue;
      }
      try {
        if (first.kind === 'upsert') await commitUpserts(group as Extract<Op, { kind: 'upsert' }>[]);
        else await commitDeletes(group as Extract<Op, { kind: 'delete' }>[]);
      } catch (e) {
        // Nothing of a failed commit is visible (LanceDB commits are atomic): every caller in it fails.
        for (const op of group as Extract<Op, { kind: 'upsert' | 'delete' }>[]) op.fail(e);
      }
    }
  };

  const kick = () => {
    draining ??= drain().finally(() => {
      draining = undefined;
      if (queue.length) kick(); // pushed between the loop's last check and here
    });
  };
  const push = (op: Op) => {
    queue.push(op);
    kick();
  };

  return {
    upsert: (rows) => new Promise((done, fail) => push({ kind: 'upsert', rows, done, fail })),
    delete: (ids) => new Promise((done, fail) => push({ kind: 'delete', ids, done, fail })),
    exclusive: <T>(task: () => Promise<T>) =>
      new Promise<T>((resolve, reject) =>
        push({
          kind: 'task',
          run: () => Promise.resolve().then(task).then(resolve, reject), // a task that throws at once still settles its caller
        }),
      ),
    idle: async () => {
      while (draining) await draining;
    },
  };
}
