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
});
