// loadClipEdge: nothing / a folder / a hub id → a ready kit whose image methods take any input.
// The hub is test/helpers/hub-server.ts on 127.0.0.1 serving the bundled model's folder.
import { mkdtempSync, openAsBlob, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { PullEvent } from '../../src/hub/pull.ts';
import { loadClipEdge } from '../../src/runtime/fs/load.ts';
import { EVAL_DIR, MODEL_DIR } from '../helpers/clip.ts';
import { startHubServer } from '../helpers/hub-server.ts';

const PHOTO = path.join(EVAL_DIR, 'images/red_circle_01.jpg');
const LABELS = { labels: ['red circle', 'blue star', 'green heart'], topK: 1 };
const tmp = mkdtempSync(path.join(tmpdir(), 'clip-edge-load-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('loadClipEdge', () => {
  it('with nothing: the bundled model, classifying a file path, bytes, a Blob, a stream and a Response alike', async () => {
    const clip = await loadClipEdge(undefined, { backend: 'wasm' });
    expect(clip.info.id).toBe('tiny-clip');
    const bytes = new Uint8Array(readFileSync(PHOTO));
    const inputs = [
      PHOTO,
      pathToFileURL(PHOTO),
      bytes,
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      await openAsBlob(PHOTO),
      new Blob([bytes]).stream(),
      new Response(bytes),
    ];
    const scores = [];
    for (const input of inputs) {
      const r = await clip.classify(input, LABELS);
      expect(r.results[0]!.label).toBe('red circle');
      scores.push(r.results[0]!.score);
    }
    // The same bytes, whatever they came in: the same answer.
    expect(new Set(scores).size).toBe(1);
    const e = await clip.embedImage(await openAsBlob(PHOTO));
    expect(e.embedding).toEqual((await clip.core.embedImage(bytes)).embedding);
  });

  it('refuses what is not an image input, a missing file and an image over maxImageBytes, with codes', async () => {
    const clip = await loadClipEdge(undefined, { backend: 'wasm', text: false, maxImageBytes: 1000 });
    await expect(clip.classify(42 as never, LABELS)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/not an image input/) });
    await expect(clip.classify(path.join(tmp, 'nope.jpg'), LABELS)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/no such file/) });
    await expect(clip.classify(PHOTO, LABELS)).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await expect(clip.classify(new Blob([readFileSync(PHOTO)]).stream(), LABELS)).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await expect(loadClipEdge('./no/such/folder')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });

  it('with a folder path', async () => {
    const clip = await loadClipEdge(MODEL_DIR, { backend: 'wasm' });
    expect((await clip.classify(PHOTO, LABELS)).results[0]!.label).toBe('red circle');
  });

  it('with a hub id: pulled on first use with progress events, then from the cache without the network', async () => {
    const hub = await startHubServer({ repos: { 'test-org/tiny-clip': MODEL_DIR } });
    const cacheDir = path.join(tmp, 'hub-cache');
    const events: PullEvent[] = [];
    try {
      const clip = await loadClipEdge('test-org/tiny-clip', {
        backend: 'wasm',
        variants: ['int8'],
        hub: { baseUrl: hub.url, cacheDir },
        onProgress: (e) => events.push(e),
      });
      expect(clip.info.id).toBe('tiny-clip');
      expect(Object.keys(clip.info.variants)).toEqual(['int8']);
      expect((await clip.classify(PHOTO, LABELS)).results[0]!.label).toBe('red circle');
      const plan = events.find((e) => e.type === 'plan');
      expect(plan?.type === 'plan' && plan.files.map((f) => f.path)).toEqual(expect.arrayContaining(['onnx/vision_model_int8.onnx', 'onnx/text_model_int8.onnx', 'tokenizer.json']));
      expect(events.filter((e) => e.type === 'file-done').length).toBe(plan?.type === 'plan' ? plan.files.length : -1);
      expect(events.some((e) => e.type === 'file-progress')).toBe(true);
    } finally {
      await hub.close();
    }
    // The hub is gone: the second load reads the cache and sends nothing.
    const before = hub.requests.length;
    const again = await loadClipEdge('test-org/tiny-clip', { backend: 'wasm', variants: ['int8'], hub: { baseUrl: hub.url, cacheDir } });
    expect((await again.classify(PHOTO, LABELS)).results[0]!.label).toBe('red circle');
    expect(hub.requests.length).toBe(before);
    // A variant not pulled yet, offline: a clear error instead of a download.
    await expect(loadClipEdge('test-org/tiny-clip', { variants: ['fp16'], offline: true, hub: { cacheDir } })).rejects.toMatchObject({
      code: 'MODEL_NOT_FOUND',
      message: expect.stringMatching(/not in the cache .* offline/),
    });
  });
});
