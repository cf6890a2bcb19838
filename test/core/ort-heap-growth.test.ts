// ORT's wasm heap grows to what its allocator asks for (src/core/ort/wasm/instance.ts exactHeapGrowth),
// not Emscripten's default of at least 20 % over the current size: on the real onnxruntime-web glue
// (recognised, and a session's heap ends where its allocations end) and on a stand-in of the glue's
// resize function (the replacement grows exactly, then lets the glue refresh its heap views).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exactHeapGrowth, wrappedInstances } from '../../src/core/ort/wasm/instance.ts';
import { wasmBackend } from '../../src/runtime/fs/ort.ts';
import { MODEL_DIR } from '../helpers/clip.ts';

const PAGE = 65536;

/** Emscripten's `emscripten_resize_heap` as its glue writes it (the shape the kit recognises), counting view refreshes. */
function glueLike(memory: WebAssembly.Memory, seen: { refreshes: number }) {
  return function resize(a: number): boolean {
    a >>>= 0;
    seen.refreshes++; // the glue's updateMemoryViews, which runs first when the buffer changed
    const b = memory.buffer.byteLength;
    if (a <= b || 4294901760 < a) return false;
    for (let d = 1; 4 >= d; d *= 2) {
      const c = Math.min(b * (1 + .2 / d), a + 100663296);
      const pages = (Math.min(4294901760, 65536 * Math.ceil(Math.max(a, c) / 65536)) - memory.buffer.byteLength + 65535) / 65536 | 0;
      try {
        memory.grow(pages);
        return true;
      } catch {
        // a smaller step next
      }
    }
    return false;
  };
}

describe('exact heap growth', () => {
  it('the glue alone grows 20 % over the heap; with the replacement, to the page the allocator asked for, and the glue still refreshes its views', () => {
    const plain = new WebAssembly.Memory({ initial: 160, maximum: 4096 }); // 10 MiB
    expect(glueLike(plain, { refreshes: 0 })(10 * 2 ** 20 + 1000)).toBe(true);
    expect(plain.buffer.byteLength).toBe(12 * 2 ** 20); // +20 %

    const memory = new WebAssembly.Memory({ initial: 160, maximum: 4096 });
    const seen = { refreshes: 0 };
    const imports = { a: { b: glueLike(memory, seen), c: () => 0 } } as unknown as WebAssembly.Imports;
    const growth = exactHeapGrowth(imports);
    expect(growth.installed).toBe(true);
    growth.bind(memory);
    const resize = (imports as { a: { b: (n: number) => boolean } }).a.b;
    expect(resize(10 * 2 ** 20 + 1000)).toBe(true);
    expect(memory.buffer.byteLength).toBe(10 * 2 ** 20 + PAGE);
    expect(seen.refreshes).toBe(1);
    expect(resize(4294901760 + 1)).toBe(false); // past wasm32's limit: refused, as the glue refuses it
    expect(memory.buffer.byteLength).toBe(10 * 2 ** 20 + PAGE);
  });

  it('leaves an import it does not recognise alone', () => {
    const f = () => 1;
    const imports = { a: { b: f } } as unknown as WebAssembly.Imports;
    expect(exactHeapGrowth(imports).installed).toBe(false);
    expect((imports as { a: { b: unknown } }).a.b).toBe(f);
  });

  it('recognises the resize function of the onnxruntime-web glue the kit ships with, and a session runs on the exactly grown heap', async () => {
    const backend = wasmBackend({ inPlace: true });
    await backend.init();
    const instance = wrappedInstances()[0]!;
    expect(instance.exactGrowth).toBe(true);
    const file = path.join(MODEL_DIR, 'onnx/vision_model_int8.ort');
    const bytes = new Uint8Array(readFileSync(file));
    const session = await backend.inPlace!.createSession({ size: bytes.byteLength, body: [bytes] }, { where: file, expected: { bytes: bytes.byteLength } });
    const n = 3 * 224 * 224;
    const image = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const one = (await session.run({ pixel_values: backend.tensor('float32', image, [1, 3, 224, 224]) }, ['image_embeds'])).image_embeds!.data as Float32Array;
    expect(one.length).toBeGreaterThan(0);
    expect(one.every(Number.isFinite)).toBe(true);
    // A batch large enough that ORT's heap must grow past its initial 16 MiB (this 2 MB model alone never
    // does): the replacement grows it, and the glue's refreshed views carry the inputs in and the outputs out.
    const before = instance.memory.buffer.byteLength;
    const B = 24;
    const batch = new Float32Array(B * n);
    for (let b = 0; b < B; b++) batch.set(image, b * n);
    const rows = (await session.run({ pixel_values: backend.tensor('float32', batch, [B, 3, 224, 224]) }, ['image_embeds'])).image_embeds!.data as Float32Array;
    expect(instance.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(rows.length).toBe(B * one.length);
    for (let b = 0; b < B; b++) {
      const row = rows.subarray(b * one.length, (b + 1) * one.length);
      expect(Math.max(...row.map((v, i) => Math.abs(v - one[i]!)))).toBeLessThan(1e-5);
    }
    await session.release?.();
  });
});
