// Review finding: localFolder() takes a file:// URI's pathname as is, still percent-encoded, so a
// folder whose name has a space or any non-ASCII letter ("file:///data/my%20photos") gets its lock
// file looked for in a folder that does not exist: every write fails with INDEX_UNAVAILABLE.
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { writerOf } from '../../src/search/drivers/lancedb-lock.ts';

it('a file:// URI of a folder with a space in its name takes the lock in that folder', () => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'lock-url-')), 'my photos é');
  mkdirSync(dir);
  const w = writerOf(pathToFileURL(dir).href, 'images'); // today: INDEX_UNAVAILABLE, ENOENT under .../my%20photos%20%C3%A9
  expect(existsSync(path.join(dir, 'images.clip-edge.lock'))).toBe(true);
  w.release();
});

it('a lock that cannot be written (no such folder, no permission) is INDEX_UNAVAILABLE, not a raw fs error', () => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'lock-url-')), 'missing');
  expect(() => writerOf(dir, 'images')).toThrow(expect.objectContaining({ code: 'INDEX_UNAVAILABLE' }));
});
