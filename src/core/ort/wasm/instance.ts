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
function wrapInstance(instance: WebAssembly.Instance, imports: WebAssembly.Imports | undefined): WebAssembly.Instance {
  const memory = findMemory(imports, instance.exports);
  if (!memory) return instance; // not ORT's kind of module: leave it alone
  const realExports = instance.exports as Record<string, unknown>;
  const handle: OrtWasmInstance = {
    memory,
    real: (name) => (typeof realExports[name] === 'function' ? (realExports[name] as (...a: unknown[]) => unknown) : undefined),
    functionNames: Object.keys(realExports).filter((k) => typeof realExports[k] === 'function'),
    overrides: new Map(),
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

/**
 * Runs `start` (ORT's start-up) with `WebAssembly.instantiate` and `instantiateStreaming` answering
 * through wrapped instances; both are restored afterwards. When `precompiled` is given, a call whose
 * source `isMarker` accepts is answered with an instance of that module (Workers refuse to compile
 * wasm from bytes: the `.wasm` is imported as a module and ORT is given marker bytes instead).
 */
export async function withWrappedOrtInstance<T>(
  start: () => Promise<T>,
  precompiled?: { module: WebAssembly.Module; isMarker: (source: unknown) => boolean },
): Promise<T> {
  const W = WebAssembly as unknown as { instantiate: Instantiate; instantiateStreaming?: Instantiate };
  const original = W.instantiate;
  const originalStreaming = W.instantiateStreaming;
  const pair = (r: unknown, imports?: WebAssembly.Imports) => {
    // instantiate(bytes) resolves to { module, instance }; instantiate(module) to an Instance.
    if (r instanceof WebAssembly.Instance) return wrapInstance(r, imports);
    const p = r as { module: WebAssembly.Module; instance: WebAssembly.Instance };
    return { module: p.module, instance: wrapInstance(p.instance, imports) };
  };
  const patched: Instantiate = async (source, imports) => {
    if (precompiled?.isMarker(source)) {
      const instance = (await original(precompiled.module, imports)) as WebAssembly.Instance;
      return { module: precompiled.module, instance: wrapInstance(instance, imports) };
    }
    return pair(await original(source, imports), imports);
  };
  const patchedStreaming: Instantiate = async (source, imports) => pair(await originalStreaming!(source, imports), imports);
  W.instantiate = patched;
  if (originalStreaming) W.instantiateStreaming = patchedStreaming;
  try {
    return await start();
  } finally {
    if (W.instantiate === patched) W.instantiate = original;
    if (originalStreaming && W.instantiateStreaming === patchedStreaming) W.instantiateStreaming = originalStreaming;
  }
}
