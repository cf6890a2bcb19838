// Review finding: a lock file left by an earlier process that had the SAME pid as this one (a
// container restarted after an OOM kill: the server is pid 1 again, same hostname) is never taken
// over: alive(pid) is true because it is this process, so every write is refused forever.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { writerOf } from '../../src/search/drivers/lancedb-lock.ts';

it('a lock naming this pid that this process does not hold (a previous incarnation) is taken over', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lock-own-pid-'));
  writeFileSync(path.join(dir, 'images.clip-edge.lock'), JSON.stringify({ pid: process.pid, host: hostname(), since: '2026-01-01T00:00:00.000Z', command: 'the server before the restart' }));
  const w = writerOf(dir, 'images'); // today: throws INDEX_UNAVAILABLE "process <own pid> ... writes to this index"
  expect(w.exclusive).toBe(true);
  w.release();
});
