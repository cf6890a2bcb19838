// The index contract inside workerd: the Vectorize driver against the clearly named stand-in
// (Vectorize has no local emulation), and the memory driver (what a Worker without Vectorize uses).
import { describe, it } from 'vitest';
import { createVectorizeIndex } from '../../../src/search/drivers/cloudflare-vectorize-binding.ts';
import { createMemoryIndex, type SnapshotStore } from '../../../src/search/drivers/memory.ts';
import { indexContract } from '../../contract/search-index.ts';
import { VectorizeStandIn } from '../vectorize-stand-in.ts';

// One stand-in index per key (as `wrangler vectorize create <name> --dimensions --metric cosine`);
// reopening a key binds the same index again. Its metadata indexes are the declared fields.
const indexes = new Map<string, VectorizeStandIn>();
const standIn = (key: string, dim: number, fields: Record<string, 'string' | 'number' | 'boolean'>) => {
  let vz = indexes.get(key);
  if (!vz) {
    vz = new VectorizeStandIn(dim);
    for (const [k, t] of Object.entries(fields)) vz.createMetadataIndex(k, t);
    indexes.set(key, vz);
  }
  return vz;
};

describe('index contract: cloudflare-vectorize-binding driver (against VectorizeStandIn, in workerd)', () => {
  const cases = indexContract((o, key) => createVectorizeIndex({ ...o, env: { VECTORIZE: standIn(key, o.dim, o.fields ?? {}) } }));
  for (const c of cases) it(c.name, () => c.run());
});

const blobs = new Map<string, Uint8Array>();
const store = (key: string): SnapshotStore => ({ read: async () => blobs.get(key), write: async (b) => void blobs.set(key, b.slice()) });
describe('index contract: memory driver (in workerd)', () => {
  for (const c of indexContract((o, key) => createMemoryIndex({ ...o, store: store(key) }))) it(c.name, () => c.run());
});
