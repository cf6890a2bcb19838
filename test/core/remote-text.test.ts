// The remote text encoder (src/core/remote-text.ts) with the bundled model's real int8 text tower
// behind a counting service: calls are split under the size limits, identical prompts in flight are
// computed once, rows come back from the shared row store, faults become TEXT_ENCODER_DOWN, a
// mismatched model is refused, and a request over the limits never calls the service.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClipEdge } from '../../src/core/clip.ts';
import { isClipEdgeError } from '../../src/core/errors.ts';
import { memoryPromptCacheStore } from '../../src/core/prompt-cache/store.ts';
import { type PromptRowStore, type RemoteTextOptions, type TextService, createRemoteTextEmbedder, splitCalls } from '../../src/core/remote-text.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';

const MANIFEST = 'a'.repeat(64);
let local: ClipEdge;
let textEncoder: RemoteTextOptions['textEncoder'];
beforeAll(async () => {
  local = await createNodeClipEdge({ backend: 'wasm', textVariant: 'int8', promptCache: memoryPromptCacheStore() });
  const e = local.info.variants.int8!.text!;
  textEncoder = { file: e.file, precision: 'int8', sha256: e.sha256! };
});

/** The real text tower behind a service that records each call's size; `fault` makes it throw or hang. */
function service(fault?: 'throw' | 'hang' | 'mismatch'): TextService & { calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    async embedTexts(texts, req) {
      calls.push(texts.length);
      if (fault === 'throw') throw new Error('text Worker exploded');
      if (fault === 'hang') return new Promise(() => {});
      if (fault === 'mismatch' || req.manifestSha256 !== MANIFEST) return { ok: false, code: 'MODEL_MISMATCH', message: 'another model', manifestSha256: 'b'.repeat(64) };
      const r = await local.embedText(texts);
      const dim = local.info.embedDim;
      const rows = new Float32Array(texts.length * dim);
      r.embeddings.forEach((e, i) => rows.set(e, i * dim));
      return { ok: true, rows, dim, truncated: [...r.truncated], manifestSha256: MANIFEST, textEncoder, inferenceMs: 0 };
    },
  };
}

const remote = (svc: TextService, extra: Partial<RemoteTextOptions> = {}) =>
  createRemoteTextEmbedder({ info: local.info, service: svc, manifestSha256: MANIFEST, textEncoder, ...extra });
const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0) / Math.hypot(...a) / Math.hypot(...b);

describe('remote text encoder', () => {
  it('splits calls by count and by bytes', () => {
    expect(splitCalls(Array.from({ length: 150 }, (_, i) => `t${i}`), 64, 1 << 20).map((c) => c.length)).toEqual([64, 64, 22]);
    expect(splitCalls(['x'.repeat(60), 'y'.repeat(60), 'z'], 64, 100).map((c) => c.length)).toEqual([1, 2]);
  });

  it('150 distinct prompts: 3 calls of ≤ 64, rows equal to the local tower’s', async () => {
    const svc = service();
    const texts = Array.from({ length: 150 }, (_, i) => `a photo of ${i} things`);
    const { out } = await remote(svc).encode(texts);
    expect(svc.calls).toEqual([64, 64, 22]);
    const direct = await local.embedText(texts.slice(0, 64));
    for (let i = 0; i < 64; i++) expect(cos(out[i]!, direct.embeddings[i]!)).toBeGreaterThan(0.99999);
  });

  it('identical prompts in flight at once are computed once; later ones come from memory', async () => {
    const svc = service();
    const r = remote(svc);
    const [a, b] = await Promise.all([r.encode(['red circle', 'blue star']), r.encode(['blue star', 'green heart'])]);
    expect(svc.calls).toEqual([3]);
    expect(a.out[1]).toEqual(b.out[0]);
    await r.encode(['green heart', 'red circle']);
    expect(svc.calls).toEqual([3]);
    expect(r.stats).toMatchObject({ service: 3, memory: 3, calls: 1 });
  });

  it('rows are written back to the shared store; another isolate finds them there and calls nothing', async () => {
    const blobs = new Map<string, Uint8Array>();
    const rows: PromptRowStore = { get: async (k) => blobs.get(k), put: async (k, b) => void blobs.set(k, b) };
    const first = service();
    const a = await remote(first, { rows }).encode(['a teal ring', 'a pink cross']);
    expect(blobs.size).toBe(2);
    expect([...blobs.keys()][0]).toMatch(new RegExp(`^text-rows/${local.info.id}/${textEncoder.sha256.slice(0, 16)}/[0-9a-f]{64}$`));
    const second = service();
    const other = remote(second, { rows });
    const b = await other.encode(['a pink cross', 'a teal ring', 'an orange star']);
    expect(second.calls).toEqual([1]);
    expect(b.out[0]).toEqual(a.out[1]);
    expect(other.stats).toMatchObject({ store: 2, service: 1 });
  });

  it('a throwing service: TEXT_ENCODER_DOWN with Retry-After; the failure is not cached', async () => {
    const svc = service('throw');
    const r = remote(svc, { retryAfterSeconds: 7 });
    const e = await r.encode(['x']).catch((x: unknown) => x);
    expect(isClipEdgeError(e) && e.code).toBe('TEXT_ENCODER_DOWN');
    expect(isClipEdgeError(e) && e.details?.retryAfterSeconds).toBe(7);
    await expect(r.encode(['x'])).rejects.toMatchObject({ code: 'TEXT_ENCODER_DOWN' });
    expect(svc.calls).toEqual([1, 1]);
  });

  it('a hanging service: TEXT_ENCODER_DOWN after timeoutMs', async () => {
    // The service never answers: only the 200 ms timer can settle it, and its message says so.
    await expect(remote(service('hang'), { timeoutMs: 200 }).encode(['y'])).rejects.toMatchObject({ code: 'TEXT_ENCODER_DOWN', message: expect.stringMatching(/200 ms/) });
  });

  it('another model on the other side: MODEL_INVALID naming both manifests', async () => {
    await expect(remote(service('mismatch')).encode(['z'])).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringMatching(/manifest sha256 bbbbbbbbbbbb.*aaaaaaaaaaaa/) });
  });

  it('through the kit: labels over the limits are refused before any call; inline labels classify as the local tower does', async () => {
    const svc = service();
    const clip = await createNodeClipEdge({ backend: 'wasm', textEmbedder: () => remote(svc), promptCache: memoryPromptCacheStore() });
    const jpeg = new Uint8Array(await (await import('node:fs/promises')).readFile('test/fixtures/tiny-clip-eval/images/red_circle_01.jpg'));
    await expect(clip.classify(jpeg, { labels: Array.from({ length: 257 }, (_, i) => `l${i}`) })).rejects.toMatchObject({ code: 'TOO_MANY_LABELS' });
    const templates = Array.from({ length: 32 }, (_, i) => `t${i} {}`);
    await expect(clip.classify(jpeg, { labels: Array.from({ length: 65 }, (_, i) => `l${i}`), templates })).rejects.toMatchObject({ code: 'TOO_MANY_LABELS' });
    expect(svc.calls).toEqual([]);
    const r = await clip.classify(jpeg, { labels: ['red circle', 'blue star'] });
    const l = await local.classify(jpeg, { labels: ['red circle', 'blue star'] });
    expect(r.results[0]!.label).toBe(l.results[0]!.label);
    expect(Math.abs(r.results[0]!.score - l.results[0]!.score)).toBeLessThan(1e-4);
    expect(r.variant.text).toBe('int8');
    expect(clip.status().active.text).toMatchObject({ variant: 'int8', remote: true });
  });
});
