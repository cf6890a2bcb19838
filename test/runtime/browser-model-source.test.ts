// The browser adapter's model source over a fetch that the test controls (Cache Storage is
// exercised in Chromium by test/web/); here: the index contract, integrity and paths.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ModelWebIndex } from '../../src/core/model/web-index.ts';
import { fetchModelSource } from '../../src/runtime/browser/model-source.ts';

const enc = new TextEncoder();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function site(files: Record<string, Uint8Array>, serve: Record<string, Uint8Array> = files) {
  const index: ModelWebIndex = {
    format: 'clip-edge/model-web-index@1',
    id: 'm',
    labelSets: [],
    files: Object.fromEntries(Object.entries(files).map(([p, b]) => [p, { bytes: b.byteLength, sha256: sha(b) }])),
  };
  const asked: string[] = [];
  const fetchImpl = (async (input: RequestInfo | URL) => {
    const url = new URL(String(input));
    asked.push(url.pathname + url.search);
    const rel = url.pathname.replace(/^\/models\/m\//, '');
    if (rel === 'files.json') return Response.json(index);
    const body = serve[rel];
    return body ? new Response(body as Uint8Array<ArrayBuffer>) : new Response('no', { status: 404 });
  }) as typeof fetch;
  return { index, asked, fetchImpl };
}

describe('fetchModelSource (browser adapter)', () => {
  it('reads listed files by their hash, reports progress, and says undefined for unlisted ones without asking the server', async () => {
    const onnx = new Uint8Array(70_000).map((_, i) => i % 251);
    const s = site({ 'manifest.json': enc.encode('{"id":"m"}'), 'onnx/vision_model.onnx': onnx });
    const progress: number[] = [];
    const src = fetchModelSource('http://host/models/m/', { fetch: s.fetchImpl, onProgress: (p) => progress.push(p.loaded) });
    expect(Array.from((await src.read('onnx/vision_model.onnx'))!)).toEqual(Array.from(onnx));
    expect(progress.at(-1)).toBe(onnx.byteLength);
    expect(s.asked).toContain(`/models/m/onnx/vision_model.onnx?sha256=${sha(onnx)}`);
    expect(await src.read('tokenizer.json')).toBeUndefined();
    expect(await src.exists('manifest.json')).toBe(true);
    expect(await src.exists('tokenizer.json')).toBe(false);
    expect(s.asked.filter((a) => a.includes('tokenizer'))).toEqual([]);
  });

  it('refuses bytes that do not match the index (INTEGRITY_MISMATCH)', async () => {
    const good = enc.encode('{"id":"m"}');
    const s = site({ 'manifest.json': good }, { 'manifest.json': enc.encode('{"id":"evil"}') });
    await expect(fetchModelSource('http://host/models/m/', { fetch: s.fetchImpl }).read('manifest.json')).rejects.toMatchObject({ code: 'INTEGRITY_MISMATCH' });
  });

  it('refuses paths that leave the folder, and names a missing index clearly', async () => {
    const s = site({ 'manifest.json': enc.encode('{}') });
    const src = fetchModelSource('http://host/models/m', { fetch: s.fetchImpl });
    for (const p of ['../secret', '/etc/passwd', 'onnx/../../x', 'a//b']) await expect(src.read(p)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    const offline = fetchModelSource('http://host/models/m/', { fetch: (async () => { throw new TypeError('Failed to fetch'); }) as typeof fetch });
    await expect(offline.read('manifest.json')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND', message: expect.stringMatching(/files\.json could not be fetched \(Failed to fetch\) and is not cached/) });
  });

  it('a file Cache Storage refuses to store (quota, an entry too large) is still used, and the refusal is reported', async () => {
    const onnx = new Uint8Array(90_000).map((_, i) => i % 241);
    const s = site({ 'manifest.json': enc.encode('{"id":"m"}'), 'onnx/vision_model_int8.onnx': onnx });
    const stored: string[] = [];
    const cache = {
      match: async () => undefined,
      delete: async () => true,
      keys: async () => [],
      put: async (url: string, res: Response) => {
        if (url.includes('vision_model_int8')) throw new DOMException('Unexpected internal error.', 'UnknownError');
        stored.push(url);
        await res.arrayBuffer();
      },
    };
    const had = Object.getOwnPropertyDescriptor(globalThis, 'caches');
    Object.defineProperty(globalThis, 'caches', { value: { open: async () => cache }, configurable: true });
    try {
      const refused: string[] = [];
      const src = fetchModelSource('http://host/models/m/', { fetch: s.fetchImpl, onCacheError: (path, e) => refused.push(`${path}: ${(e as Error).message}`) });
      expect(Array.from((await src.read('onnx/vision_model_int8.onnx'))!)).toEqual(Array.from(onnx));
      expect(refused).toEqual(['onnx/vision_model_int8.onnx: Unexpected internal error.']);
      expect(await src.read('manifest.json')).toBeDefined();
      expect(stored.some((u) => u.includes('manifest.json'))).toBe(true);
    } finally {
      if (had) Object.defineProperty(globalThis, 'caches', had);
      else delete (globalThis as { caches?: unknown }).caches;
    }
  });
});
