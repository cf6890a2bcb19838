// In-place loading of ORT-format models on onnxruntime-web in Node (the same core path as Workers):
// outputs equal the copying path on the same file, the buffer-lifetime guard is what keeps them
// right (without it ORT reuses the freed model block: microsoft/onnxruntime#19491), integrity is
// checked while streaming, and a changed onnxruntime-web fails loudly.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import type { OrtModule, SessionLike } from '../../src/core/backend.ts';
import { createClipEdge } from '../../src/core/clip.ts';
import { ClipEdgeError } from '../../src/core/errors.ts';
import { readModelInfo } from '../../src/core/model/info.ts';
import { asNumber, createInPlaceLoader, IN_PLACE_SESSION_CONFIG, type InPlaceLoader } from '../../src/core/ort/wasm/in-place.ts';
import { wrappedInstances } from '../../src/core/ort/wasm/instance.ts';
import { retryAfterOf } from '../../src/http/errors.ts';
import { wasmBackend } from '../../src/runtime/fs/ort.ts';
import { nodeImageCodecs } from '../../src/runtime/fs/codecs.ts';
import { fsModelSource } from '../../src/runtime/fs/model-source.ts';
import { MODEL_DIR } from '../helpers/clip.ts';

const ORT_FILE = path.join(MODEL_DIR, 'onnx/vision_model_int8.ort');
const bytes = new Uint8Array(readFileSync(ORT_FILE));
const chunks = (b: Uint8Array, n = 65536) => Array.from({ length: Math.ceil(b.length / n) }, (_, i) => b.slice(i * n, (i + 1) * n));
const OPTIONS = { executionProviders: ['wasm'], graphOptimizationLevel: 'all', enableCpuMemArena: false, enableMemPattern: false };
/** A fixed pseudo-image (the tower's input), several so that a corruption cannot hide in one. */
const pixels = (seed: number) => Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.013 * seed + seed));
const feeds = (seed: number) => ({ pixel_values: new ort.Tensor('float32', pixels(seed), [1, 3, 224, 224]) });
const embed = async (s: SessionLike, seed: number) => (await s.run(feeds(seed), ['image_embeds'])).image_embeds!.data as Float32Array;

let loader: InPlaceLoader;
beforeAll(async () => {
  // The kit's Node WASM backend with in-place loading starts ORT through the instantiate shim.
  const backend = wasmBackend({ inPlace: true });
  await backend.init();
  loader = await createInPlaceLoader((await import('onnxruntime-web')) as unknown as OrtModule);
});

/** ORT mallocs `size` bytes for a model given as JS bytes, copies them, fails on garbage, frees: it reuses a freed block of that size. */
async function churnHeap(size: number): Promise<void> {
  await ort.InferenceSession.create(new Uint8Array(size).fill(0xa5)).then(() => expect.unreachable(), () => undefined);
}

describe('in-place sessions on onnxruntime-web (Node WASM)', () => {
  it('reads wasm32 pointers and sizes as unsigned: a block above 2 GiB is not a failed malloc', () => {
    // What a wasm32 export hands JS for the i32 0x80000010 (a block just above 2 GiB): -2147483632.
    const i32 = new Int32Array(new Uint32Array([0x8000_0010]).buffer)[0]!;
    expect(i32).toBeLessThan(0);
    expect(asNumber(i32)).toBe(0x8000_0010);
    expect(asNumber(0)).toBe(0);
    expect(asNumber(12345)).toBe(12345);
    expect(asNumber(BigInt(2) ** BigInt(33))).toBe(2 ** 33); // memory64 pointers arrive as BigInt
    expect(asNumber('12')).toBeUndefined();
  });

  it('finds malloc/free by behaviour and names the exports (1.30: wb, vb)', () => {
    expect(loader.exportNames.malloc).toMatch(/^\w+$/);
    expect(loader.exportNames.free).not.toBe(loader.exportNames.malloc);
  });

  it('outputs equal the copying path on the same .ort file, exactly, also after the heap is churned', async () => {
    const inPlace = await loader.createSession({ size: bytes.length, body: chunks(bytes) }, { where: ORT_FILE, sessionOptions: OPTIONS });
    // The copying path: the same file handed to ORT as JS bytes, pre-packing off as in place.
    const copied = await ort.InferenceSession.create(bytes, { ...OPTIONS, extra: { session: { disable_prepacking: '1' } } } as object);
    await churnHeap(bytes.length);
    for (const seed of [1, 2, 3]) expect(await embed(inPlace, seed)).toEqual(await embed(copied as unknown as SessionLike, seed));
    await inPlace.release();
    await copied.release();
  });

  it('the guard is what keeps them right: without it (ORT as shipped) the freed block is reused and outputs change', async () => {
    const inst = wrappedInstances()[0]!;
    const malloc = inst.real(loader.exportNames.malloc)!;
    const reference = await loader.createSession({ size: bytes.length, body: chunks(bytes) }, { where: ORT_FILE, sessionOptions: OPTIONS });
    const expected = await embed(reference, 1);
    await reference.release();
    // The same in-place session, created the way ORT's API allows but without the kit's guard.
    const ptr = malloc(bytes.length) as number;
    new Uint8Array(inst.memory.buffer, ptr, bytes.length).set(bytes);
    const unguarded = await ort.InferenceSession.create(new Uint8Array(inst.memory.buffer, ptr, bytes.length), {
      ...OPTIONS,
      extra: { session: Object.fromEntries(Object.entries(IN_PLACE_SESSION_CONFIG).map(([k, v]) => [k.slice(8), v])) },
    } as object);
    await churnHeap(bytes.length);
    const got = await embed(unguarded as unknown as SessionLike, 1);
    expect(got).not.toEqual(expected);
    await unguarded.release();
  });

  it('the session holds its block until release; releasing frees it for reuse', async () => {
    const before = loader.wasmMemoryBytes();
    for (let i = 0; i < 3; i++) {
      const s = await loader.createSession({ size: bytes.length, body: chunks(bytes) }, { where: ORT_FILE, sessionOptions: OPTIONS });
      expect(s.modelBytes).toBe(bytes.length);
      await s.release();
      await s.release(); // idempotent
      await expect(async () => s.run(feeds(1))).rejects.toThrow(/after release/);
    }
    // Three load/release cycles fit in the memory one needed: the block was freed each time.
    expect(loader.wasmMemoryBytes() - before).toBeLessThanOrEqual(2 * bytes.length);
  });

  it('checks size and sha256 while streaming: a wrong or truncated file is refused and its block freed', async () => {
    const info = await readModelInfo(fsModelSource(MODEL_DIR));
    const entry = info.variants.int8!.vision!.ort!;
    expect(entry.file).toBe('onnx/vision_model_int8.ort');
    const tampered = bytes.slice();
    tampered[tampered.length >> 1]! ^= 1;
    const err = await loader.createSession({ size: tampered.length, body: chunks(tampered) }, { where: 'x.ort', expected: entry }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClipEdgeError);
    expect(err).toMatchObject({ code: 'INTEGRITY_MISMATCH', message: expect.stringMatching(/x\.ort has sha256 [0-9a-f]{64}, the manifest says /) });
    await expect(loader.createSession({ size: bytes.length, body: chunks(bytes.subarray(0, 1000)) }, { where: 'x.ort' })).rejects.toMatchObject({ code: 'INTEGRITY_MISMATCH', message: expect.stringMatching(/the stream had 1000 bytes, expected/) });
    await expect(loader.createSession({ size: 5, body: chunks(bytes) }, { where: 'x.ort', expected: entry })).rejects.toMatchObject({ code: 'INTEGRITY_MISMATCH' });
    // A stream longer than announced (exactly full, then more) is refused too, not cut silently.
    const longer = new Uint8Array(bytes.length + 10);
    longer.set(bytes);
    await expect(loader.createSession({ size: bytes.length, body: chunks(longer, bytes.length) }, { where: 'x.ort' })).rejects.toMatchObject({ code: 'INTEGRITY_MISMATCH', message: expect.stringMatching(/more than \d+ bytes/) });
    const ok = await loader.createSession({ size: bytes.length, body: chunks(bytes) }, { where: 'x.ort', expected: entry, sessionOptions: OPTIONS });
    expect(ok.sha256).toBe(entry.sha256);
    await ok.release();
  });

  it('fails loudly, not silently, when onnxruntime-web stops behaving as relied on (a stand-in ORT whose create never copies)', async () => {
    const changedOrt = { ...(ort as unknown as OrtModule), InferenceSession: { create: async () => Promise.reject(new Error('not a model')) } } as OrtModule;
    const refused = createInPlaceLoader(changedOrt);
    await expect(refused).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(/in-place model loading is unavailable: this onnxruntime-web allocated the model 0 times/) });
    // A retry gets the same answer until the process is reconfigured: its HTTP answer says no Retry-After.
    const err = (await refused.catch((e: unknown) => e)) as ClipEdgeError;
    expect(err.details).toMatchObject({ permanent: true });
    expect(retryAfterOf(err.code, err.details)).toBeUndefined();
    expect(retryAfterOf('BACKEND_UNAVAILABLE', {})).toBe(5);
    expect(retryAfterOf('BACKEND_UNAVAILABLE', { retryAfterSeconds: 2.5 })).toBe(3);
  });
});

describe('the kit loads the ORT-format variant in place (Node WASM backend)', () => {
  it('tiny-clip int8 in place gives the .onnx int8 variant\'s embeddings (cosine ≥ 0.99999)', async () => {
    const common = { source: fsModelSource(MODEL_DIR), imageCodecs: nodeImageCodecs(), text: false, visionVariant: 'int8' as const, requireIntegrity: true };
    const inPlace = await createClipEdge({ ...common, backends: [wasmBackend({ inPlace: true })] });
    const copying = await createClipEdge({ ...common, backends: [wasmBackend()] });
    expect(inPlace.status().active.vision.inPlace).toBe(true);
    expect(copying.status().active.vision.inPlace).toBeUndefined();
    const image = new Uint8Array(readFileSync(path.join(MODEL_DIR, '..', '..', 'test/fixtures/images/CLIP.png')));
    const a = (await inPlace.embedImage(image)).embedding;
    const b = (await copying.embedImage(image)).embedding;
    let dot = 0;
    for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
    expect(dot).toBeGreaterThanOrEqual(0.99999);
  });

  it('a corrupted .ort (same size, one bit flipped) is refused in place by the manifest sha256 (default options: the kit, not the loader alone)', async () => {
    // The model folder with only the ORT-format file changed: every other file is a link to the real one.
    const dir = mkdtempSync(path.join(tmpdir(), 'clip-edge-tampered-ort-'));
    try {
      for (const f of readdirSync(MODEL_DIR)) if (f !== 'onnx') symlinkSync(path.join(MODEL_DIR, f), path.join(dir, f));
      mkdirSync(path.join(dir, 'onnx'));
      for (const f of readdirSync(path.join(MODEL_DIR, 'onnx'))) if (f !== 'vision_model_int8.ort') symlinkSync(path.join(MODEL_DIR, 'onnx', f), path.join(dir, 'onnx', f));
      const tampered = bytes.slice();
      tampered[tampered.length >> 1]! ^= 1;
      writeFileSync(path.join(dir, 'onnx/vision_model_int8.ort'), tampered);
      // Default options (verify on, requireIntegrity off): the size alone matches, only the sha256 tells.
      const clip = await createClipEdge({ source: fsModelSource(dir), imageCodecs: nodeImageCodecs(), text: false, visionVariant: 'int8', backends: [wasmBackend({ inPlace: true })] });
      const image = new Uint8Array(readFileSync(path.join(MODEL_DIR, '..', '..', 'test/fixtures/images/CLIP.png')));
      const err = await clip.embedImage(image).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ClipEdgeError);
      expect(err).toMatchObject({ code: 'INTEGRITY_MISMATCH', message: expect.stringMatching(/vision_model_int8\.ort has sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
