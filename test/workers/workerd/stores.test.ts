import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { unpackPromptCache } from '../../../src/core/prompt-cache/format.ts';
import { fallthroughPromptCacheStore, kvPromptCacheStore, r2PromptCacheStore } from '../../../src/runtime/workers/prompt-cache.ts';
import { sampleEntry, testPromptCacheStore } from '../../contract/prompt-cache.ts';

let n = 0;
const fresh = () => `contract-${++n}`;

testPromptCacheStore('Workers KV (packed blobs)', () => kvPromptCacheStore(env.PROMPTS, fresh()));
testPromptCacheStore('R2 (model-folder layout)', () => r2PromptCacheStore(env.MODELS, `${fresh()}/prompts`));
testPromptCacheStore('KV in front of R2 (the Worker\'s store)', () => {
  const p = fresh();
  return fallthroughPromptCacheStore(kvPromptCacheStore(env.PROMPTS, p), r2PromptCacheStore(env.MODELS, `${p}/prompts`));
});

describe('KV and R2 store specifics', () => {
  it('KV keeps one value per key: the packed header + matrix', async () => {
    const store = kvPromptCacheStore(env.PROMPTS, 'specifics');
    const entry = await sampleEntry();
    await store.put('animals', entry);
    const raw = await env.PROMPTS.get('specifics/animals', 'arrayBuffer');
    expect(unpackPromptCache(new Uint8Array(raw!)).header).toEqual(entry.header);
  });

  it('R2 writes the same .json + .bin pair as `clip-edge prompts build`', async () => {
    const store = r2PromptCacheStore(env.MODELS, 'm/prompts');
    const entry = await sampleEntry();
    await store.put('animals', entry);
    expect(JSON.parse(new TextDecoder().decode(await (await env.MODELS.get('m/prompts/animals.json'))!.arrayBuffer()))).toEqual(entry.header);
    expect((await env.MODELS.head('m/prompts/animals.bin'))!.size).toBe(entry.data.byteLength);
  });

  it('prefixes keep models apart', async () => {
    const a = kvPromptCacheStore(env.PROMPTS, 'model-a');
    const b = kvPromptCacheStore(env.PROMPTS, 'model-b');
    await a.put('only-a', await sampleEntry());
    expect(await b.get('only-a')).toBeUndefined();
    expect(await b.keys()).not.toContain('only-a');
  });

  it('refuses keys that are paths', async () => {
    const store = kvPromptCacheStore(env.PROMPTS, 'p');
    await expect(store.get('../x')).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(r2PromptCacheStore(env.MODELS, 'p').put('a/b', await sampleEntry())).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });

  it('a corrupt KV value falls through to the good copy in R2; with none, the KV error is reported', async () => {
    const entry = await sampleEntry();
    await env.PROMPTS.put('ft/animals', 'garbage');
    await r2PromptCacheStore(env.MODELS, 'ft/prompts').put('animals', entry);
    const store = fallthroughPromptCacheStore(kvPromptCacheStore(env.PROMPTS, 'ft'), r2PromptCacheStore(env.MODELS, 'ft/prompts'));
    expect((await store.get('animals'))?.header).toEqual(entry.header);
    await env.PROMPTS.put('ft/other', 'garbage');
    await expect(store.get('other')).rejects.toThrow(/packed prompt cache/);
  });

  it('a value that is not a packed cache is reported stale, not used', async () => {
    await env.PROMPTS.put('bad/cifar10', 'not a cache');
    await expect(kvPromptCacheStore(env.PROMPTS, 'bad').get('cifar10')).rejects.toThrow(/packed prompt cache/);
  });
});
