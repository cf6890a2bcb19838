import { describe, it } from 'vitest';
import { createMemoryIndex, type SnapshotStore } from '../../src/search/drivers/memory.ts';
import { indexContract } from './contract.ts';

// Snapshots kept in a Map per key: reopening a key reads what persist() wrote.
const blobs = new Map<string, Uint8Array>();
const store = (key: string): SnapshotStore => ({
  read: async () => blobs.get(key),
  write: async (b) => void blobs.set(key, b.slice()),
});

describe('index contract: memory driver', () => {
  for (const c of indexContract((o, key) => createMemoryIndex({ ...o, store: store(key) }))) it(c.name, () => c.run());
});
