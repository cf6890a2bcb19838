/**
 * A view of onnxruntime-web's WebAssembly instance from outside ORT: its memory, and the exports
 * the Emscripten glue captured when it instantiated the module. ORT-web exposes neither (its
 * Emscripten module object is private, and it has no `instantiateWasm` hook), so we answer the
 * glue's `WebAssembly.instantiate` call during ORT's start-up with the real instance whose function
 * exports are wrapped by thin forwarding functions. The wrappers cost one JS call per export call
 * (ORT's JS calls exports per session/tensor/run, never per operator) and let the in-place loader
 * (in-place.ts) find and guard `malloc`/`free` by what they do, not by their minified names.
 *
 * Hand-written because nothing public does this: it works around microsoft/onnxruntime#19491
 * (createSession frees the model bytes that sessions created with
 * `session.use_ort_model_bytes_directly` still point into).
 */

/** One call of a wrapped export, as seen by a recorder. */
export interface ExportCall {
  readonly name: string;
  readonly args: readonly unknown[];
  readonly result: unknown;
}

/** Replaces the behaviour of an export (the in-place loader's guarded `free`). */
export type ExportOverride = (real: (...args: unknown[]) => unknown, args: unknown[]) => unknown;

export interface OrtWasmInstance {
  /** ORT's wasm memory (imported or exported by the module). */
  readonly memory: WebAssembly.Memory;
  /** The real (unwrapped) export, for the loader's own calls. */
  real(name: string): ((...args: unknown[]) => unknown) | undefined;
  /** Names of the function exports (all wrapped). */
  readonly functionNames: readonly string[];
  /** Sees every wrapped call while set (calibration only: it is slow-ish and unneeded afterwards). */
  recorder?: (call: ExportCall) => void;
  /** Per-export overrides, by export name. */
  readonly overrides: Map<string, ExportOverride>;
  /** Whether the heap grows to exactly what ORT's allocator asks for (see {@link exactHeapGrowth}); false when the glue's resize import was not recognised. */
  readonly exactGrowth: boolean;
}

const instances: OrtWasmInstance[] = [];

/** Every instance wrapped so far (in practice one: ORT starts its wasm once per realm). */
export const wrappedInstances = (): readonly OrtWasmInstance[] => instances;

const findMemory = (imports: WebAssembly.Imports | undefined, exports: WebAssembly.Exports): WebAssembly.Memory | undefined => {
  for (const v of Object.values(exports)) if (v instanceof WebAssembly.Memory) return v;
  for (const ns of Object.values(imports ?? {})) {
    for (const v of Object.values(ns)) if (v instanceof WebAssembly.Memory) return v;
  }
  return undefined;
};

/** An Instance-like object whose function exports forward to the real ones through the handle's hooks. */
function wrapInstance(instance: WebAssembly.Instance, imports: WebAssembly.Imports | undefined, growth?: ExactGrowth): WebAssembly.Instance {
  const memory = findMemory(imports, instance.exports);
  if (!memory) return instance; // not ORT's kind of module: leave it alone
  growth?.bind(memory);
  const realExports = instance.exports as Record<string, unknown>;
  const handle: OrtWasmInstance = {
    memory,
    real: (name) => (typeof realExports[name] === 'function' ? (realExports[name] as (...a: unknown[]) => unknown) : undefined),
    functionNames: Object.keys(realExports).filter((k) => typeof realExports[k] === 'function'),
    overrides: new Map(),
    exactGrowth: growth?.installed ?? false,
  };
  const exports: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(realExports)) {
    if (typeof value !== 'function') {
      exports[name] = value;
      continue;
    }
    const real = value as (...a: unknown[]) => unknown;
    exports[name] = (...args: unknown[]) => {
      const override = handle.overrides.get(name);
      const result = override ? override(real, args) : real(...args);
      handle.recorder?.({ name, args, result });
      return result;
    };
  }
  instances.push(handle);
  return { exports: Object.freeze(exports) } as WebAssembly.Instance;
}

type Instantiate = (source: unknown, imports?: WebAssembly.Imports) => Promise<unknown>;

/** wasm32's largest memory, in bytes, less one page (Emscripten's limit for `emscripten_resize_heap`). */
const WASM32_MAX_HEAP = 4294901760;
const WASM_PAGE = 65536;

export interface ExactGrowth {
  readonly installed: boolean;
  bind(memory: WebAssembly.Memory): void;
}

/**
 * Makes ORT's heap grow to exactly what its allocator asks for, a page at a time, instead of
 * Emscripten's default of at least 20 % more than the heap's current size (`emscripten_resize_heap`).
 * Wasm memory never shrinks, and a 128 MB Workers isolate counts all of it: with the default, the
 * last growth of a run can leave up to a sixth of ORT's heap unused (RN50x64's `layer2.8`–`2.14`
 * slice: 80.8 → 75.6 MiB, `npm run bench:residual-fusion -- … --growth`, bench/results/residual-fusion.md).
 *
 * The glue's resize function is an import of the module (minified name): recognised by what only it
 * holds, the 4 GiB − 64 KiB limit and the 20 % over-growth factor. Our replacement grows the memory
 * to the requested size, then calls the glue's own function, which first re-creates the glue's heap
 * views for the grown buffer (its `updateMemoryViews`) and then, finding the heap large enough,
 * grows nothing more. Unrecognised (another ORT build): left as it is, and `exactGrowth` says so.
 */
export function exactHeapGrowth(imports: WebAssembly.Imports | undefined, enabled = true): ExactGrowth {
  let memory: WebAssembly.Memory | undefined;
  let installed = false;
  for (const ns of enabled ? (Object.values(imports ?? {}) as Record<string, unknown>[]) : []) {
    for (const [name, value] of Object.entries(ns)) {
      if (typeof value !== 'function') continue;
      let source: string;
      try {
        source = Function.prototype.toString.call(value);
      } catch {
        continue; // not inspectable: not the glue's function
      }
      if (!source.includes(String(WASM32_MAX_HEAP)) || !/\.2\s*\//.test(source) || !source.includes('.grow(')) continue;
      const glue = value as (requested: number) => unknown;
      const exact = (requested: number): boolean => {
        if (!memory) return Boolean(glue(requested));
        const want = requested >>> 0;
        const have = memory.buffer.byteLength;
        if (want > have && want <= WASM32_MAX_HEAP) {
          try {
            memory.grow(Math.ceil((want - have) / WASM_PAGE));
          } catch {
            return Boolean(glue(requested)); // the engine refused: the glue's own attempt decides
          }
        }
        // Refreshes the glue's views of the grown heap (and grows nothing more: it is large enough).
        glue(requested);
        return memory.buffer.byteLength >= want;
      };
      try {
        ns[name] = exact;
        installed = ns[name] === exact;
      } catch {
        // A frozen import namespace: ORT keeps Emscripten's growth (installed stays false).
      }
    }
  }
  return { installed, bind: (m) => void (memory = m) };
}

/**
 * Runs `start` (ORT's start-up) with `WebAssembly.instantiate` and `instantiateStreaming` answering
 * through wrapped instances; both are restored afterwards. When `precompiled` is given, a call whose
 * source `isMarker` accepts is answered with an instance of that module (Workers refuse to compile
 * wasm from bytes: the `.wasm` is imported as a module and ORT is given marker bytes instead).
 * With `exactGrowth` (the default) ORT's heap grows to what its allocator asks for ({@link exactHeapGrowth}).
 */
export async function withWrappedOrtInstance<T>(
  start: () => Promise<T>,
  precompiled?: { module: WebAssembly.Module; isMarker: (source: unknown) => boolean },
  exactGrowth = true,
): Promise<T> {
  const W = WebAssembly as unknown as { instantiate: Instantiate; instantiateStreaming?: Instantiate };
  const original = W.instantiate;
  const originalStreaming = W.instantiateStreaming;
  const pair = (r: unknown, imports: WebAssembly.Imports | undefined, growth: ExactGrowth) => {
    // instantiate(bytes) resolves to { module, instance }; instantiate(module) to an Instance.
    if (r instanceof WebAssembly.Instance) return wrapInstance(r, imports, growth);
    const p = r as { module: WebAssembly.Module; instance: WebAssembly.Instance };
    return { module: p.module, instance: wrapInstance(p.instance, imports, growth) };
  };
  const patched: Instantiate = async (source, imports) => {
    const growth = exactHeapGrowth(imports, exactGrowth);
    if (precompiled?.isMarker(source)) {
      const instance = (await original(precompiled.module, imports)) as WebAssembly.Instance;
      return { module: precompiled.module, instance: wrapInstance(instance, imports, growth) };
    }
    return pair(await original(source, imports), imports, growth);
  };
  const patchedStreaming: Instantiate = async (source, imports) => {
    const growth = exactHeapGrowth(imports, exactGrowth);
    return pair(await originalStreaming!(source, imports), imports, growth);
  };
  W.instantiate = patched;
  if (originalStreaming) W.instantiateStreaming = patchedStreaming;
  try {
    return await start();
  } finally {
    if (W.instantiate === patched) W.instantiate = original;
    if (originalStreaming && W.instantiateStreaming === patchedStreaming) W.instantiateStreaming = originalStreaming;
  }
}
