import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { createLanceDbIndex } from '../../src/search/drivers/lancedb.ts';
import { indexContract } from '../contract/search-index.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'clip-edge-lancedb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('index contract: LanceDB driver (Node)', () => {
  for (const c of indexContract((o, key) => createLanceDbIndex({ ...o, uri: path.join(dir, key) }))) it(c.name, () => c.run(), 30_000);
});
