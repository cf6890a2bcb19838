import { mkdtempSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryPromptCacheStore, tieredPromptCacheStore } from '../../src/core/prompt-cache/store.ts';
import { fsPromptCacheStore } from '../../src/runtime/fs/prompt-cache.ts';
import { sampleEntry, testPromptCacheStore } from '../contract/prompt-cache.ts';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'clip-edge-pc-'));

testPromptCacheStore('memory LRU', () => memoryPromptCacheStore());
testPromptCacheStore('filesystem', () => fsPromptCacheStore(tmp()));
testPromptCacheStore('tiered (memory over filesystem)', () => tieredPromptCacheStore(memoryPromptCacheStore(), fsPromptCacheStore(tmp())));

describe('store specifics', () => {
  it('the memory store evicts least recently used entries beyond its byte budget', async () => {
    const one = await sampleEntry(['a', 'b'], 256); // 2 KiB matrix
    const store = memoryPromptCacheStore({ maxBytes: 3 * (one.data.byteLength + 2 * 64 + 1024) });
    for (const k of ['k1', 'k2', 'k3']) await store.put(k, one);
    await store.get('k1'); // k1 is now the most recent
    await store.put('k4', one);
    expect((await store.keys()).sort()).toEqual(['k1', 'k3', 'k4']);
  });

  it('the filesystem store bounds request-time (inline-*) entries by bytes as well as by count, oldest first', async () => {
    const dir = tmp();
    const one = await sampleEntry(['a', 'b'], 256);
    const probe = fsPromptCacheStore(dir);
    await probe.put('inline-a', one);
    const entryBytes = statSync(path.join(dir, 'inline-a.json')).size + statSync(path.join(dir, 'inline-a.bin')).size;
    const store = fsPromptCacheStore(dir, { maxInlineBytes: 3 * entryBytes + entryBytes / 2, maxInlineEntries: 100 });
    await store.put('inline-b', one);
    await store.put('inline-c', one);
    await store.put('shipped-set', one); // not request-time: never pruned
    // Ages made explicit (file times written in one millisecond would tie).
    for (const [k, t] of [['inline-a', 1000], ['inline-b', 2000], ['inline-c', 3000]] as const) utimesSync(path.join(dir, `${k}.json`), t, t);
    await store.put('inline-d', one); // 4 entries > 3.5 entries' bytes: the oldest goes
    expect(await store.keys()).toEqual(['inline-b', 'inline-c', 'inline-d', 'shipped-set']);
    const byCount = fsPromptCacheStore(dir, { maxInlineEntries: 1 });
    await byCount.put('inline-e', one);
    expect(await byCount.keys()).toEqual(['inline-e', 'shipped-set']);
  });

  it('the filesystem store refuses keys that are paths', async () => {
    const store = fsPromptCacheStore(tmp());
    await expect(store.get('../etc/passwd')).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(store.put('a/b', await sampleEntry())).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });

  it('the filesystem store reports a header that is not JSON as a corrupt cache', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'x.json'), '{not json');
    writeFileSync(path.join(dir, 'x.bin'), new Uint8Array(8));
    await expect(fsPromptCacheStore(dir).get('x')).rejects.toMatchObject({ code: 'INTEGRITY_MISMATCH' });
  });

  it('a tiered store reads through its fallbacks, the first tier that has a key answering, and writes to the first', async () => {
    const shipped = memoryPromptCacheStore();
    const user = memoryPromptCacheStore();
    // Entries told apart by their labels: which tier answered is visible in what comes back.
    await shipped.put('cifar10', await sampleEntry(['shipped-a', 'shipped-b']));
    await shipped.put('both', await sampleEntry(['shipped-only']));
    await user.put('both', await sampleEntry(['user-1', 'user-2', 'user-3']));
    const tiered = tieredPromptCacheStore(user, shipped);
    expect((await tiered.get('cifar10'))?.header.labels, 'only the fallback has it').toEqual(['shipped-a', 'shipped-b']);
    expect((await tiered.get('both'))?.header.labels, 'the first tier wins').toEqual(['user-1', 'user-2', 'user-3']);
    expect((await tiered.getAll!('both')).map((e) => e.header.labels), 'every tier, in order').toEqual([['user-1', 'user-2', 'user-3'], ['shipped-only']]);
    expect(await tiered.get('nowhere')).toBeUndefined();
    expect(await user.keys(), 'a read through does not copy into the first tier').toEqual(['both']);
    await tiered.put('inline-x', await sampleEntry());
    expect((await user.keys()).sort()).toEqual(['both', 'inline-x']);
    expect((await shipped.keys()).sort()).toEqual(['both', 'cifar10']);
  });
});

describe('filesystem store bounds request-time entries', () => {
  it('keeps at most maxInlineEntries inline-* entries, dropping the oldest', async () => {
    const dir = tmp();
    const store = fsPromptCacheStore(dir, { maxInlineEntries: 2 });
    await store.put('cifar10', await sampleEntry());
    for (const k of ['inline-a', 'inline-b', 'inline-c']) {
      await store.put(k, await sampleEntry());
      await new Promise((r) => setTimeout(r, 15));
    }
    expect((await store.keys()).sort()).toEqual(['cifar10', 'inline-b', 'inline-c']);
  });
});
