import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWorkersClipEdge, workersConfig } from '../../../src/runtime/workers/create.ts';
import { assetsModelSource, r2ModelSource } from '../../../src/runtime/workers/model-source.ts';
import type { FetcherLike } from '../../../src/runtime/workers/bindings.ts';
import { MODEL_DIR } from '../fixtures.ts';
import { envWith, populate, repoFile } from './helpers.ts';

beforeAll(() => populate());

/** Static assets that hold the model folder under /models/tiny-clip/ (served from the repository). */
const assets: FetcherLike = {
  fetch: async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input.url);
    const m = /^\/models\/tiny-clip\/(.+)$/.exec(url.pathname);
    if (!m) return new Response('not found', { status: 404 });
    const r = await env.FIXTURES.fetch(`http://fixtures/file/${MODEL_DIR}/${m[1]}`);
    if (init?.method !== 'HEAD') return r;
    await r.body?.cancel(); // a HEAD answer has no body: do not leave the file's unread
    return new Response(null, { status: r.status });
  },
};

describe('model sources', () => {
  it('R2: reads files, undefined for missing ones, refuses paths that climb', async () => {
    const src = r2ModelSource(env.MODELS, 'tiny-clip');
    const manifest = JSON.parse(new TextDecoder().decode(await src.read('manifest.json'))) as { id: string };
    expect(manifest.id).toBe('tiny-clip');
    expect(await src.read('nope.json')).toBeUndefined();
    expect(await src.exists('config.json')).toBe(true);
    expect(await src.exists('nope.json')).toBe(false);
    await expect(src.read('../other/manifest.json')).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });

  it('a corrupted ONNX file in R2 is refused by the manifest’s sha256', async () => {
    const files = await env.MODELS.list({ prefix: 'tiny-clip/onnx/' });
    const vision = files.objects.find((o) => o.key.includes('vision_model'))!;
    const bytes = new Uint8Array(await (await env.MODELS.get(vision.key))!.arrayBuffer());
    bytes[bytes.length >> 1]! ^= 0xff;
    const copy = vision.key.replace(/^tiny-clip\//, 'corrupt-clip/');
    for (const o of (await env.MODELS.list({ prefix: 'tiny-clip/' })).objects) {
      if (!o.key.endsWith('.onnx')) await env.MODELS.put(o.key.replace(/^tiny-clip\//, 'corrupt-clip/'), await (await env.MODELS.get(o.key))!.arrayBuffer());
    }
    await env.MODELS.put(copy, bytes);
    const clip = await createWorkersClipEdge(envWith({ CLIP_EDGE_MODEL: 'corrupt-clip' }));
    await expect(clip.warmup()).rejects.toMatchObject({ code: 'INTEGRITY_MISMATCH' });
  });

  it('an ONNX (or ORT-format) file that the manifest lists without a sha256 is refused on Workers (nothing to verify it against)', async () => {
    for (const o of (await env.MODELS.list({ prefix: 'tiny-clip/' })).objects) {
      const bytes = await (await env.MODELS.get(o.key))!.arrayBuffer();
      let body: ArrayBuffer | string = bytes;
      if (o.key === 'tiny-clip/manifest.json') {
        const m = JSON.parse(new TextDecoder().decode(bytes)) as { variants: Record<string, { vision?: { sha256?: string; ort?: { sha256?: string } } }> };
        for (const v of Object.values(m.variants)) {
          delete v.vision?.sha256;
          delete v.vision?.ort?.sha256;
        }
        body = JSON.stringify(m);
      }
      await env.MODELS.put(o.key.replace(/^tiny-clip\//, 'unhashed-clip/'), body);
    }
    const clip = await createWorkersClipEdge(envWith({ CLIP_EDGE_MODEL: 'unhashed-clip' }));
    await expect(clip.warmup()).rejects.toMatchObject({ code: 'INTEGRITY_MISMATCH', message: expect.stringMatching(/no sha256 in the manifest/) });
  });

  // Last in the file: after a kit had loaded and classified in this isolate, the R2 copies of the
  // tests above hung workerd in most runs (V8 collecting garbage without end, at 100% CPU).
  it('static assets: a whole kit loads from /models/<id>/ (sha256 checked by the core)', async () => {
    const clip = await createWorkersClipEdge(envWith({ CLIP_EDGE_MODEL_SOURCE: 'assets' }), { source: assetsModelSource(assets, 'models/tiny-clip') });
    const jpeg = await repoFile('test/fixtures/tiny-clip-eval/images/red_circle_01.jpg');
    const r = await clip.classify(jpeg, { labelSet: 'cifar10', topK: 1 });
    expect(r.results).toHaveLength(1);
  });
});

describe('configuration from vars', () => {
  it('defaults: tiny-clip from R2, vision only, 40 MP images, the decode budget following the model, exact JPEG (no DCT scaling), in place', () => {
    const cfg = workersConfig(envWith({ CLIP_EDGE_TEXT: '', CLIP_EDGE_MAX_PIXELS: '', CLIP_EDGE_DECODE_BUDGET_MB: '', CLIP_EDGE_JPEG_SCALING: '', CLIP_EDGE_BODY_MEMORY_MB: '', CLIP_EDGE_IN_PLACE: '' }));
    expect(cfg).toMatchObject({ model: 'tiny-clip', modelSource: 'r2', text: false, limits: { maxPixels: 40_000_000 }, decodeBudgetBytes: 'auto', bodyMemoryBytes: 8 * 1024 * 1024, jpegScaling: false, inPlace: true });
    expect(workersConfig(envWith({ CLIP_EDGE_DECODE_BUDGET_MB: '20', CLIP_EDGE_JPEG_SCALING: 'false', CLIP_EDGE_BODY_MEMORY_MB: '4', CLIP_EDGE_IN_PLACE: 'false' }))).toMatchObject({ decodeBudgetBytes: 20 * 1024 * 1024, jpegScaling: false, bodyMemoryBytes: 4 * 1024 * 1024, inPlace: false });
    expect(() => workersConfig(envWith({ CLIP_EDGE_DECODE_BUDGET_MB: '500' }))).toThrow(/CLIP_EDGE_DECODE_BUDGET_MB must be auto or/);
    expect(() => workersConfig(envWith({ CLIP_EDGE_BODY_MEMORY_MB: '0' }))).toThrow(/CLIP_EDGE_BODY_MEMORY_MB/);
    expect(() => workersConfig(envWith({ CLIP_EDGE_JPEG_SCALING: 'sometimes' }))).toThrow(/CLIP_EDGE_JPEG_SCALING/);
  });

  it('invalid vars are errors naming the variable', () => {
    expect(() => workersConfig(envWith({ CLIP_EDGE_TEXT: 'maybe' }))).toThrow(/CLIP_EDGE_TEXT/);
    expect(() => workersConfig(envWith({ CLIP_EDGE_VARIANT: 'int3' }))).toThrow(/CLIP_EDGE_VARIANT/);
    expect(() => workersConfig(envWith({ CLIP_EDGE_MODEL: '../x' }))).toThrow(/CLIP_EDGE_MODEL/);
    expect(() => workersConfig(envWith({ CLIP_EDGE_MODEL_SOURCE: 'ftp' }))).toThrow(/CLIP_EDGE_MODEL_SOURCE/);
  });
});
