// Review finding (older than this morning, but outside the new writer lock): openTable() creates the
// images table with mode 'overwrite' whenever its settings table (images_clip_edge) is missing, so
// opening a folder that already holds an `images` table (made by another tool, or by a first process
// between its two createEmptyTable calls) replaces that table and its rows, by any process, even one
// that only reads (serve --db), without taking the lock.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { expect, it } from 'vitest';
import { createLanceDbIndex } from '../../src/search/drivers/lancedb.ts';

it('opening a folder whose "images" table is not the kit\'s does not delete its rows', async () => {
  const uri = path.join(mkdtempSync(path.join(tmpdir(), 'foreign-')), 'db');
  const db = await lancedb.connect(uri);
  await db.createTable('images', [{ id: 'a', vector: [1, 0, 0, 0] }, { id: 'b', vector: [0, 1, 0, 0] }]);
  db.close();
  const index = await createLanceDbIndex({ uri, model: 'm', dim: 4 }).catch((e: unknown) => e);
  const check = await lancedb.connect(uri);
  expect(await (await check.openTable('images')).countRows()).toBe(2); // before the fix: 0, the table was replaced
  expect(index).toMatchObject({ code: 'INDEX_MISMATCH' });
  check.close();
  if (index && typeof (index as { close?: unknown }).close === 'function') await (index as { close(): Promise<void> }).close();
});
