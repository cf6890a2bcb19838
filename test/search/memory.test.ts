import { describe, expect, it } from 'vitest';
import { createMemoryIndex, type SnapshotStore } from '../../src/search/drivers/memory.ts';
import { indexContract } from '../contract/search-index.ts';

// Snapshots kept in a Map per key: reopening a key reads what persist() wrote.
const blobs = new Map<string, Uint8Array>();
const store = (key: string): SnapshotStore => ({
  read: async () => blobs.get(key),
  write: async (b) => void blobs.set(key, b.slice()),
});

describe('index contract: memory driver', () => {
  for (const c of indexContract((o, key) => createMemoryIndex({ ...o, store: store(key) }))) it(c.name, () => c.run());
});

describe('flat index extras: list() and get()', () => {
  it('lists ids with metadata and returns stored (normalised) vectors, also after a delete and a reopen', async () => {
    const open = () => createMemoryIndex({ model: 'm', dim: 2, store: store('extras') });
    const index = await open();
    await index.upsert(
      [
        { id: 'a', vector: [3, 4], metadata: { name: 'a.jpg' } },
        { id: 'b', vector: [0, 2], metadata: { name: 'b.jpg' } },
        { id: 'c', vector: [1, 0] },
      ],
      { model: 'm' },
    );
    expect(index.list()).toEqual([
      { id: 'a', metadata: { name: 'a.jpg' } },
      { id: 'b', metadata: { name: 'b.jpg' } },
      { id: 'c', metadata: {} },
    ]);
    // [3, 4] / 5, as float32.
    expect([...index.get('a')!.vector]).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(index.get('a')!.metadata).toEqual({ name: 'a.jpg' });
    expect(index.get('nope')).toBeUndefined();
    // Copies: changing them changes nothing stored.
    index.get('a')!.vector[0] = 9;
    index.list()[0]!.metadata.name = 'changed';
    expect(index.get('a')).toEqual({ vector: Float32Array.of(0.6, 0.8), metadata: { name: 'a.jpg' } });
    // A delete moves the last record into the freed place; its vector moves with it.
    await index.delete(['a']);
    expect(index.list().map((r) => r.id)).toEqual(['c', 'b']);
    expect([...index.get('c')!.vector]).toEqual([1, 0]);
    await index.persist();
    const again = await open();
    expect(again.list().map((r) => r.id)).toEqual(['c', 'b']);
    expect([...again.get('b')!.vector]).toEqual([0, 1]);
  });
});
