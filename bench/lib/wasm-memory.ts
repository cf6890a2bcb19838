// Reads onnxruntime-web's wasm memory in Node: WebAssembly.instantiate is wrapped before ORT starts,
// and the memory it imports or exports is kept (the heap ORT's sessions live in; it never shrinks).
const memories: WebAssembly.Memory[] = [];

export function trackWasmMemory(): void {
  const original = WebAssembly.instantiate;
  WebAssembly.instantiate = (async (source: BufferSource | WebAssembly.Module, imports?: WebAssembly.Imports) => {
    const r = (await (original as (s: unknown, i?: WebAssembly.Imports) => Promise<unknown>)(source, imports)) as
      | WebAssembly.Instance
      | { instance: WebAssembly.Instance };
    const instance = 'instance' in r ? r.instance : r;
    for (const ns of Object.values(imports ?? {})) for (const v of Object.values(ns)) if (v instanceof WebAssembly.Memory) memories.push(v);
    for (const v of Object.values(instance.exports)) if (v instanceof WebAssembly.Memory) memories.push(v);
    return r;
  }) as typeof WebAssembly.instantiate;
}

/** Bytes of the largest wasm memory seen (ORT's), or undefined when none was instantiated. */
export const wasmMemoryBytes = (): number | undefined =>
  memories.length ? Math.max(...memories.map((m) => m.buffer.byteLength)) : undefined;
