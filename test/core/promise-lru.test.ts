import { describe, expect, it } from 'vitest';
import { createPromiseLru } from '../../src/core/promise-lru.ts';

describe('createPromiseLru (the class-matrix memory cache)', () => {
  it('shares one computation between concurrent callers and reports hits', async () => {
    const lru = createPromiseLru<Uint8Array>(100, (v) => v.byteLength);
    let runs = 0;
    const compute = async () => (runs++, new Uint8Array(10));
    const a = lru.get('k', compute);
    const b = lru.get('k', compute);
    expect([a.hit, b.hit]).toEqual([false, true]);
    expect(await a.value).toBe(await b.value);
    expect(runs).toBe(1);
    expect(lru.usedBytes).toBe(10);
  });

  it('evicts the least recently used entries past the byte budget', async () => {
    const lru = createPromiseLru<Uint8Array>(25, (v) => v.byteLength);
    const ten = async () => new Uint8Array(10);
    await lru.get('a', ten).value;
    await lru.get('b', ten).value;
    await lru.get('a', ten).value; // a is now the most recent
    await lru.get('c', ten).value; // 30 bytes > 25: b goes
    await Promise.resolve();
    expect(lru.usedBytes).toBe(20);
    expect(lru.get('a', ten).hit).toBe(true);
    expect(lru.get('b', ten).hit).toBe(false);
  });

  it('forgets a rejected computation so the next caller retries', async () => {
    const lru = createPromiseLru<Uint8Array>(100, (v) => v.byteLength);
    await expect(lru.get('k', async () => Promise.reject(new Error('boom'))).value).rejects.toThrow('boom');
    await Promise.resolve();
    expect(lru.get('k', async () => new Uint8Array(1)).hit).toBe(false);
  });
});
