import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../../src/http/config.ts';

describe('configFromEnv', () => {
  it('reads every documented variable', () => {
    expect(
      configFromEnv({
        CLIP_EDGE_MODEL: '/m', CLIP_EDGE_BACKEND: 'wasm', CLIP_EDGE_VARIANT: 'int8', CLIP_EDGE_TEXT: '0',
        CLIP_EDGE_THREADS: '2', CLIP_EDGE_MAX_BATCH: '1', CLIP_EDGE_API_KEY: 'k', CLIP_EDGE_CORS_ORIGINS: 'https://a.example, https://b.example',
        CLIP_EDGE_MAX_BODY_BYTES: '1000', PORT: '0', HOST: '::1', CLIP_EDGE_MAX_PIXELS: '100', CLIP_EDGE_MAX_LABELS: '5',
      }),
    ).toEqual({
      model: '/m', backend: 'wasm', visionVariant: 'int8', text: false, threads: 2, maxBatch: 1, apiKey: 'k',
      corsOrigins: ['https://a.example', 'https://b.example'], maxBodyBytes: 1000, port: 0, host: '::1',
      limits: { maxPixels: 100, maxLabels: 5 },
    });
  });

  it('reads the overload settings and several API keys', () => {
    expect(configFromEnv({ CLIP_EDGE_MAX_IN_FLIGHT: '8', CLIP_EDGE_REQUEST_TIMEOUT_MS: '0', CLIP_EDGE_RATE_LIMIT: '120', CLIP_EDGE_API_KEY: 'a,b' })).toEqual({
      maxInFlight: 8,
      requestTimeoutMs: 0,
      rateLimitPerMinute: 120,
      apiKey: ['a', 'b'],
    });
  });

  it('reads the image decode settings', () => {
    expect(configFromEnv({ CLIP_EDGE_DECODE_BUDGET_MB: '512', CLIP_EDGE_DECODE_THREADS: '0' })).toEqual({ decodeBudgetMb: 512, decodeThreads: 0 });
    expect(configFromEnv({ CLIP_EDGE_DECODE_BUDGET_MB: 'auto' })).toEqual({ decodeBudgetMb: 'auto' });
    expect(configFromEnv({ CLIP_EDGE_THREAD_NICE: '10' })).toEqual({ threadNice: 10 });
  });

  it('is empty for an empty environment', () => {
    expect(configFromEnv({})).toEqual({});
  });

  it.each([
    ['CLIP_EDGE_THREADS', 'two'],
    ['CLIP_EDGE_MAX_BATCH', '0'],
    ['CLIP_EDGE_VARIANT', 'int3'],
    ['CLIP_EDGE_TEXT', 'maybe'],
    ['PORT', '-1'],
    ['CLIP_EDGE_MAX_BODY_BYTES', '1.5'],
    ['CLIP_EDGE_MAX_IN_FLIGHT', '0'],
    ['CLIP_EDGE_REQUEST_TIMEOUT_MS', '-1'],
    ['CLIP_EDGE_RATE_LIMIT', '0'],
    ['CLIP_EDGE_DECODE_BUDGET_MB', '0'],
    ['CLIP_EDGE_DECODE_BUDGET_MB', 'lots'],
    ['CLIP_EDGE_DECODE_THREADS', '-1'],
  ])('rejects %s=%s with a message naming it', (k, v) => {
    expect(() => configFromEnv({ [k]: v })).toThrow(k);
  });
});

// One environment parser: a boolean means the same in configFromEnv (Node, Deno, Bun) and in a
// Worker's vars (workersConfig), where CLIP_EDGE_JPEG_SCALING / CLIP_EDGE_IN_PLACE used to accept
// only true/false/1/0.
describe('one boolean rule for every runtime', () => {
  const assets = { fetch: async () => new Response(null, { status: 404 }) };
  it.each([
    ['1', true], ['true', true], ['YES', true], ['on', true],
    ['0', false], ['false', false], ['no', false], ['Off', false],
  ] as const)('%s is %s everywhere', async (v, want) => {
    const { workersConfig } = await import('../../src/runtime/workers/config.ts');
    expect(configFromEnv({ CLIP_EDGE_TEXT: v }).text).toBe(want);
    expect(configFromEnv({ CLIP_EDGE_REQUEST_LOG: v }).requestLog).toBe(want);
    const w = workersConfig({ ASSETS: assets, CLIP_EDGE_TEXT: v, CLIP_EDGE_JPEG_SCALING: v, CLIP_EDGE_IN_PLACE: v } as never);
    expect([w.text, w.jpegScaling, w.inPlace]).toEqual([want, want, want]);
  });

  it('refuses anything else, naming the variable, on every runtime', async () => {
    const { workersConfig } = await import('../../src/runtime/workers/config.ts');
    expect(() => configFromEnv({ CLIP_EDGE_TEXT: 'maybe' })).toThrow(/CLIP_EDGE_TEXT must be true or false/);
    expect(() => workersConfig({ ASSETS: assets, CLIP_EDGE_IN_PLACE: 'maybe' } as never)).toThrow(/CLIP_EDGE_IN_PLACE must be true or false/);
    expect(() => workersConfig({ ASSETS: assets, CLIP_EDGE_RATE_LIMIT_PERIOD: '0' } as never)).toThrow(/CLIP_EDGE_RATE_LIMIT_PERIOD/);
  });

  it('never repeats the bad value (a secret set in the wrong variable): the variable and its form only', async () => {
    const { workersConfig } = await import('../../src/runtime/workers/config.ts');
    const secret = 'sk-live-0123456789abcdef';
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    for (const [f, name] of [
      [() => configFromEnv({ CLIP_EDGE_MAX_IN_FLIGHT: secret }), 'CLIP_EDGE_MAX_IN_FLIGHT must be an integer ≥ 1'],
      [() => configFromEnv({ CLIP_EDGE_TEXT: secret }), 'CLIP_EDGE_TEXT must be true or false'],
      [() => configFromEnv({ CLIP_EDGE_BACKEND: secret }), 'CLIP_EDGE_BACKEND must be auto or node or wasm or webgpu'],
      [() => configFromEnv({ CLIP_EDGE_THREAD_NICE: secret }), 'CLIP_EDGE_THREAD_NICE must be a whole number in [0, 19]'],
      [() => workersConfig({ ASSETS: assets, CLIP_EDGE_MODEL: `../${secret}` } as never), 'CLIP_EDGE_MODEL must be a folder name'],
      [() => workersConfig({ ASSETS: assets, CLIP_EDGE_DECODE_BUDGET_MB: secret } as never), 'CLIP_EDGE_DECODE_BUDGET_MB must be auto or'],
    ] as const) {
      const m = message(f);
      expect(m).toContain(name);
      expect(m).not.toContain(secret.slice(0, 6));
    }
  });
});
