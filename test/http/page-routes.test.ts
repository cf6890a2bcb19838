// The page's routes on the Node app, over the app's fetch (no browser): what is served, with which headers.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Hono } from 'hono';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { ModelWebIndex } from '../../src/core/model/web-index.ts';
import { buildWeb, type WebBuild } from '../../src/page-server/build.ts';
import { createServiceApp } from '../../src/runtime/fs/service.ts';
import { CODEC_WASM_FILES } from '../../src/runtime/browser/codecs.ts';
import { MODEL_DIR, REPO_ROOT } from '../helpers/clip.ts';

let build: WebBuild;
let app: Hono;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  build = await buildWeb();
  app = await createServiceApp({ backend: 'wasm', text: false }, { page: true, pageBuild: build });
});

describe('page routes', () => {
  it('malformed percent-encoding under /models/<id>/ is a 404 with no stack logged; long paths are not echoed whole', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      for (const p of ['/models/tiny-clip/%ff', '/models/tiny-clip/onnx/%E0%A4%A', '/models/tiny-clip/%', `/models/tiny-clip/${'a'.repeat(13_500)}`, `/v1/${'b'.repeat(13_500)}`]) {
        const res = await app.request(p);
        expect(res.status, p.slice(0, 40)).toBe(404);
        const text = await res.text();
        expect(JSON.parse(text).error.code).toBe('NOT_FOUND');
        expect(text.length, p.slice(0, 40)).toBeLessThan(400);
      }
      expect(logged).not.toHaveBeenCalled();
    } finally {
      logged.mockRestore();
    }
  });

  it('serves the page at / with cross-origin isolation headers and the model folder in a meta tag', async () => {
    const res = await app.request('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    const html = await res.text();
    expect(html).toContain('<meta name="clip-edge-model" content="models/tiny-clip/">');
    expect(html).toContain('accept="image/*" capture="environment"');
  });

  it('serves the bundle, service worker, manifest, ORT loaders and codec wasm', async () => {
    for (const p of ['/app/app.js', '/app/worker.js', '/sw.js', '/manifest.webmanifest', '/icons/icon-192.png', '/ort/ort.wasm.min.mjs', '/ort/ort-wasm-simd-threaded.wasm', '/codecs/libjpeg-turbo.wasm']) {
      const res = await app.request(p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('cross-origin-embedder-policy'), p).toBe('require-corp');
      await res.arrayBuffer();
    }
    expect((await app.request('/ort/ort-wasm-simd-threaded.wasm')).headers.get('content-type')).toBe('application/wasm');
    const manifest = (await (await app.request('/manifest.webmanifest')).json()) as { icons: { sizes: string }[]; display: string };
    expect(manifest.display).toBe('standalone');
    expect(manifest.icons.map((i) => i.sizes)).toEqual(expect.arrayContaining(['192x192', '512x512']));
    // The page's own JS stays small (ORT and the model are separate files).
    expect(build.jsBytes.gzip).toBeLessThan(150_000);
  });

  it('serves the streamed decoders (this package\'s libjpeg-turbo and libwebp) and jsquash\'s whole-image WebP, all precached by the service worker; no mozjpeg', async () => {
    const want: Record<string, string> = {
      'libjpeg-turbo.wasm': path.join(REPO_ROOT, 'src/core/image/libjpeg-turbo.wasm'),
      'libwebp.wasm': path.join(REPO_ROOT, 'src/core/image/libwebp.wasm'),
      'webp_dec.wasm': path.join(REPO_ROOT, 'node_modules/@jsquash/webp/codec/dec/webp_dec.wasm'),
    };
    expect(Object.values(CODEC_WASM_FILES).sort()).toEqual(Object.keys(want).sort());
    const sw = new TextDecoder().decode(build.files.get('sw.js')!.bytes);
    for (const [file, onDisk] of Object.entries(want)) {
      const res = await app.request(`/codecs/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get('content-type'), file).toBe('application/wasm');
      expect(res.headers.get('cross-origin-resource-policy'), file).toBe('same-origin');
      expect(sha(new Uint8Array(await res.arrayBuffer())), file).toBe(sha(readFileSync(onDisk)));
      expect(sw, `${file} in the service worker's app shell`).toContain(`"codecs/${file}"`);
    }
    expect((await app.request('/codecs/mozjpeg_dec.wasm')).status).toBe(404);
  });

  it('lists the model folder with sizes and sha256 that match the files served', async () => {
    const index = (await (await app.request('/models/tiny-clip/files.json')).json()) as ModelWebIndex;
    expect(index.id).toBe('tiny-clip');
    expect(index.labelSets[0]).toBe('tiny-clip-shapes');
    expect(index.labelSets).toEqual(expect.arrayContaining(['cifar10', 'imagenet', 'imagenet-7', 'food101']));
    for (const p of ['manifest.json', 'tokenizer.json', 'onnx/vision_model_int8.onnx', 'onnx/text_model.onnx', 'prompts/cifar10.bin', 'label-sets/cifar10.json']) {
      const res = await app.request(`/models/tiny-clip/${p}`);
      expect(res.status, p).toBe(200);
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect({ p, bytes: bytes.byteLength, sha256: sha(bytes) }).toEqual({ p, ...index.files[p] });
      expect(res.headers.get('etag')).toBe(`"${index.files[p]!.sha256}"`);
    }
    const onDisk = readFileSync(path.join(MODEL_DIR, 'onnx/vision_model_int8.onnx'));
    expect(index.files['onnx/vision_model_int8.onnx']!.sha256).toBe(sha(onDisk));
    // The built-in label set is rendered from the server's own definition (openai/CLIP's CIFAR-10 list).
    const cifar = (await (await app.request('/models/tiny-clip/label-sets/cifar10.json')).json()) as { classes: string[]; templates: string[] };
    expect(cifar.classes).toHaveLength(10);
    expect(cifar.templates.length).toBeGreaterThan(1);
  });

  it('model files asked for by hash are immutable; others revalidate; If-None-Match gives 304', async () => {
    const index = (await (await app.request('/models/tiny-clip/files.json')).json()) as ModelWebIndex;
    const { sha256 } = index.files['onnx/vision_model_int8.onnx']!;
    expect((await app.request(`/models/tiny-clip/onnx/vision_model_int8.onnx?sha256=${sha256}`)).headers.get('cache-control')).toMatch(/immutable/);
    expect((await app.request('/models/tiny-clip/onnx/vision_model_int8.onnx')).headers.get('cache-control')).toBe('no-cache');
    const again = await app.request('/models/tiny-clip/onnx/vision_model_int8.onnx', { headers: { 'If-None-Match': `"${sha256}"` } });
    expect(again.status).toBe(304);
  });

  it('serves nothing outside the index: traversal, unlisted files, other models', async () => {
    for (const p of [
      '/models/tiny-clip/../../package.json',
      '/models/tiny-clip/%2e%2e/%2e%2e/package.json',
      '/models/tiny-clip/recipes/train.py',
      '/models/tiny-clip/onnx/',
      '/models/other-model/manifest.json',
      '/ort/ort.min.mjs',
      '/app/../package.json',
    ]) {
      const res = await app.request(p);
      expect(res.status, p).toBe(404);
      expect(await res.text(), p).not.toContain('"dependencies"');
    }
  });

  it('is not served when an API key protects the API', async () => {
    const locked = await createServiceApp({ backend: 'wasm', text: false, apiKey: 'k' }, { page: true, pageBuild: build });
    expect((await locked.request('/')).status).toBe(401);
    expect((await locked.request('/models/tiny-clip/files.json')).status).toBe(401);
  });
});
