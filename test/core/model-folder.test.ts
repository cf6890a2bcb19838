import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClipEdge } from '../../src/core/clip.ts';
import { readModelInfo } from '../../src/core/model/info.ts';
import { memorySource } from '../../src/core/model/source.ts';
import { wasmBackend } from '../../src/runtime/fs/ort.ts';
import { nodeImageCodecs } from '../../src/runtime/fs/codecs.ts';
import { fsModelSource } from '../../src/runtime/fs/model-source.ts';
import { EVAL_DIR, MODEL_DIR } from '../helpers/clip.ts';
import { prerequisite } from '../helpers/prerequisite.ts';

/** The bundled model folder, read into memory once so each case can break a copy of it. */
const files: Record<string, Uint8Array> = {};
const walk = (dir: string, rel = '') => {
  for (const f of readdirSync(dir)) {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) walk(p, `${rel}${f}/`);
    else files[`${rel}${f}`] = new Uint8Array(readFileSync(p));
  }
};
walk(MODEL_DIR);
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests edit arbitrary manifest fields
type Json = Record<string, any>;
const manifest = () => JSON.parse(new TextDecoder().decode(files['manifest.json'])) as Json;
const backend = wasmBackend();
const jpeg = readFileSync(path.join(EVAL_DIR, 'images', readdirSync(path.join(EVAL_DIR, 'images')).find((f) => f.endsWith('.jpg'))!));

const variant = (edit: (f: Record<string, Uint8Array | string>) => void) => {
  const copy: Record<string, Uint8Array | string> = { ...files };
  edit(copy);
  for (const [k, v] of Object.entries(copy)) if (v === undefined) delete copy[k];
  return memorySource('tiny-clip', copy);
};
const withManifest = (edit: (m: Json) => void) => (f: Record<string, Uint8Array | string>) => {
  const m = manifest();
  edit(m);
  f['manifest.json'] = JSON.stringify(m);
};
const load = (source: ReturnType<typeof memorySource>) =>
  createClipEdge({ source, backends: [backend], imageCodecs: nodeImageCodecs(), visionVariant: 'fp32' }).then(async (c) => (await c.warmup(), c));

describe('model folder layout (Hugging Face / Optimum)', () => {
  beforeAll(() => backend.init());

  it('the bundled folder has the standard files and a manifest with hashes', async () => {
    for (const f of ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'manifest.json', 'onnx/vision_model.onnx', 'onnx/text_model.onnx']) {
      expect(files[f], f).toBeDefined();
    }
    const info = await readModelInfo(fsModelSource(MODEL_DIR));
    expect(info.id).toBe('tiny-clip');
    expect(info.contextLength).toBe(77);
    expect(info.preprocess).toMatchObject({ shortestEdge: 224, cropHeight: 224, cropWidth: 224 });
    expect(info.variants.fp32?.vision?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(info.variants.fp32?.vision?.bytes).toBe(files['onnx/vision_model.onnx']!.byteLength);
  });

  it('a variant whose .ort the manifest lists but the folder lacks loads from its .onnx (no in-place form)', async () => {
    expect(files['onnx/vision_model_int8.ort'], 'the bundled folder ships the int8 vision .ort').toBeDefined();
    const withOrt = await readModelInfo(variant(() => {}));
    expect(withOrt.variants.int8?.vision?.ort?.file).toBe('onnx/vision_model_int8.ort');
    const without = await readModelInfo(variant((f) => void delete f['onnx/vision_model_int8.ort']));
    expect(without.variants.int8?.vision).toEqual({ ...withOrt.variants.int8!.vision!, ort: undefined });
    expect(without.variants.int8?.vision && 'ort' in without.variants.int8.vision).toBe(false);
  });

  it('loads without a manifest (derived from config.json, variants found by file name)', async () => {
    const clip = await load(variant((f) => void delete f['manifest.json']));
    expect(clip.info.embedDim).toBe(manifest().embedDim);
    expect(Object.keys(clip.info.variants)).toContain('fp32');
    expect(clip.info.logitScale).toBe(100);
    const r = await clip.classify(jpeg, { labels: ['red circle', 'blue star'] });
    expect(r.results).toHaveLength(2);
  });

  it.each([
    ['a sha256 mismatch', withManifest((m) => (m.variants.fp32.vision.sha256 = '0'.repeat(64))), 'INTEGRITY_MISMATCH', /onnx\/vision_model\.onnx has sha256 [0-9a-f]{64}, the manifest says 0{64}/],
    ['a truncated ONNX file (size mismatch)', (f: Record<string, Uint8Array | string>) => void (f['onnx/vision_model.onnx'] = files['onnx/vision_model.onnx']!.slice(0, 1000)), 'INTEGRITY_MISMATCH', /vision_model\.onnx has 1000 bytes/],
    ['a missing ONNX file', (f: Record<string, Uint8Array | string>) => void delete f['onnx/vision_model.onnx'], 'MODEL_NOT_FOUND', /tiny-clip\/onnx\/vision_model\.onnx is missing/],
    ['a corrupt ONNX file', (f: Record<string, Uint8Array | string>) => {
      withManifest((m) => { delete m.variants.fp32.vision.sha256; delete m.variants.fp32.vision.bytes; })(f);
      f['onnx/vision_model.onnx'] = new Uint8Array(5000).fill(7);
    }, 'MODEL_INVALID', /tiny-clip\/onnx\/vision_model\.onnx could not be loaded by the wasm backend/],
    ['wrong input names (the text graph in the vision slot)', (f: Record<string, Uint8Array | string>) => {
      withManifest((m) => { delete m.variants.fp32.vision.sha256; delete m.variants.fp32.vision.bytes; })(f);
      f['onnx/vision_model.onnx'] = files['onnx/text_model.onnx']!;
    }, 'MODEL_INVALID', /vision_model\.onnx is not a CLIP vision encoder: expected inputs \[pixel_values\]/],
    ['a wrong embedDim in the manifest', withManifest((m) => (m.embedDim = 999)), 'MODEL_INVALID', /image_embeds has \d+ dims, the model's embedDim is 999/],
    ['no manifest and no config', (f: Record<string, Uint8Array | string>) => { delete f['manifest.json']; delete f['config.json']; }, 'MODEL_NOT_FOUND', /neither manifest\.json nor config\.json/],
    ['config.json that is not JSON', (f: Record<string, Uint8Array | string>) => void (f['config.json'] = '{oops'), 'MODEL_INVALID', /tiny-clip\/config\.json is not valid JSON/],
    ['a non-CLIP config', (f: Record<string, Uint8Array | string>) => { delete f['manifest.json']; f['config.json'] = JSON.stringify({ model_type: 'bert' }); }, 'MODEL_INVALID', /model_type is "bert", expected "clip"/],
    ['a missing tokenizer.json', (f: Record<string, Uint8Array | string>) => void delete f['tokenizer.json'], 'MODEL_INVALID', /tiny-clip\/tokenizer\.json is missing/],
    ['a bad sha256 format', withManifest((m) => (m.variants.fp32.text.sha256 = 'xyz')), 'MODEL_INVALID', /manifest\.json: variants\.fp32\.text\.sha256 must be 64 hex digits/],
    ['a non-bicubic preprocessor', (f: Record<string, Uint8Array | string>) => { delete f['manifest.json']; f['preprocessor_config.json'] = JSON.stringify({ resample: 2 }); }, 'MODEL_INVALID', /resample 2 is not supported/],
  ])('refuses %s with a clear error naming the file', async (_, edit, code, message) => {
    const err = await load(variant(edit)).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err, 'expected the load to fail').toBeDefined();
    expect(err!.code).toBe(code);
    expect(err!.message).toMatch(message);
  });

  it('the filesystem source cannot read outside the folder', async () => {
    await expect(fsModelSource(MODEL_DIR).read('../../package.json')).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});

describe('backends', () => {
  it('native onnxruntime-node (when installed) and WASM give the same answers', async () => {
    const { nativeBackend } = await import('../../src/runtime/fs/ort.ts');
    const native = nativeBackend();
    const available = await native.init().then(() => true, () => false);
    if (!prerequisite(available, 'onnxruntime-node (a devDependency)')) return void console.warn('onnxruntime-node is not installed: native/WASM comparison skipped');
    const source = fsModelSource(MODEL_DIR);
    const [a, b] = await Promise.all([native, backend].map((be) => createClipEdge({ source, backends: [be], imageCodecs: nodeImageCodecs(), visionVariant: 'fp32' })));
    const [ea, eb] = await Promise.all([a!.embedImage(jpeg), b!.embedImage(jpeg)]);
    expect(a!.backend.name).toBe('node');
    for (let i = 0; i < ea.embedding.length; i++) expect(Math.abs(ea.embedding[i]! - eb.embedding[i]!)).toBeLessThan(1e-4);
  });

  it('an unavailable backend is skipped; when none starts, one error lists every reason', async () => {
    const { resolveBackend } = await import('../../src/core/backend.ts');
    const { ortBackend } = await import('../../src/core/ort/backend.ts');
    const broken = (name: string, priority: number) =>
      ortBackend({ name, priority, preferred: ['fp32'], load: async () => { throw new Error(`${name} is not here`); } });
    expect((await resolveBackend([broken('gpu', 30), backend])).name).toBe('wasm');
    await expect(resolveBackend([broken('a', 2), broken('b', 1)])).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
      message: expect.stringMatching(/a: a is not here; b: b is not here/),
    });
  });

  it('a backend that does not run the vision variant it would get gives way to the next (WebGPU and int8); named alone, it is refused', async () => {
    // A stand-in for the browser's WebGPU backend: a real WASM backend that says it runs fp32/fp16/q4 only.
    const gpu = { ...wasmBackend(), name: 'webgpu', priority: 30, runs: ['fp32', 'fp16', 'q4'] as const };
    const clip = await createClipEdge({ source: fsModelSource(MODEL_DIR), backends: [gpu, backend], imageCodecs: nodeImageCodecs(), visionVariant: 'int8', text: false });
    expect(clip.status().backend).toBe('wasm');
    const fp32 = await createClipEdge({ source: fsModelSource(MODEL_DIR), backends: [gpu, backend], imageCodecs: nodeImageCodecs(), visionVariant: 'fp32', text: false });
    expect(fp32.status().backend).toBe('webgpu');
    await expect(createClipEdge({ source: fsModelSource(MODEL_DIR), backends: [gpu, backend], backend: 'webgpu', imageCodecs: nodeImageCodecs(), visionVariant: 'int8', text: false })).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
      message: expect.stringMatching(/webgpu: does not run the int8 vision variant/),
    });
    // A variant that cannot be picked is still said as such, not as a backend that cannot run it.
    await expect(createClipEdge({ source: fsModelSource(MODEL_DIR), backends: [gpu, backend], backend: 'webgpu', imageCodecs: nodeImageCodecs(), visionVariant: 'int4' as 'int8', text: false })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/unknown variant "int4"/) });
  });
});
