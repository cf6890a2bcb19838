import * as ort from 'onnxruntime-web/wasm';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import { type Backend, type OrtModule, ortBackend } from '../../core/backend.ts';
import { WORKERS_VARIANT_ORDER } from './variants.ts';

/**
 * onnxruntime-web on Workers. Workers refuse to compile WebAssembly at run time, so the `.wasm` is
 * imported as a module (compiled when the Worker is uploaded). ORT has no `instantiateWasm` hook:
 * given `env.wasm.wasmBinary` its loader calls `WebAssembly.instantiate(bytes, imports)`. We hand
 * it a small marker as the "binary" and, for the duration of ORT's start-up only, answer that one
 * call with an instance of the precompiled module. Every other call goes to the real function.
 */

/** Marker bytes standing in for the wasm binary; ORT copies them (`new Uint8Array(binary)`) before instantiating. */
const MARKER = new TextEncoder().encode('clip-edge:precompiled-ort-wasm');

const isMarker = (x: unknown): boolean =>
  x instanceof Uint8Array && x.byteLength === MARKER.byteLength && x.every((b, i) => b === MARKER[i]);

let memory: WebAssembly.Memory | undefined;

/** Bytes of ORT's wasm memory (what its sessions hold; it never shrinks). `undefined` before the first session. */
export const ortWasmMemoryBytes = (): number | undefined => memory?.buffer.byteLength;

const findMemory = (imports: WebAssembly.Imports | undefined): WebAssembly.Memory | undefined => {
  for (const ns of Object.values(imports ?? {})) {
    for (const v of Object.values(ns)) if (v instanceof WebAssembly.Memory) return v;
  }
  return undefined;
};

/** Runs `start` with WebAssembly.instantiate answering the marker with `module`; restores it afterwards. */
async function withPrecompiledModule<T>(module: WebAssembly.Module, start: () => Promise<T>): Promise<T> {
  const original = WebAssembly.instantiate;
  const patched = (async (source: unknown, imports?: WebAssembly.Imports) => {
    if (!isMarker(source)) return (original as (s: unknown, i?: WebAssembly.Imports) => Promise<unknown>)(source, imports);
    const instance = await original(module, imports);
    memory = findMemory(imports) ?? Object.values(instance.exports).find((v): v is WebAssembly.Memory => v instanceof WebAssembly.Memory);
    return { module, instance };
  }) as typeof WebAssembly.instantiate;
  WebAssembly.instantiate = patched;
  try {
    return await start();
  } finally {
    if (WebAssembly.instantiate === patched) WebAssembly.instantiate = original;
  }
}

interface OrtWasmEnv {
  wasm: { numThreads: number; wasmBinary?: Uint8Array; proxy?: boolean; simd?: boolean };
  logLevel?: string;
}

export interface WorkersWasmBackendOptions {
  /** The compiled ORT wasm. @defaultValue `onnxruntime-web/ort-wasm-simd-threaded.wasm`, imported as a module */
  module?: WebAssembly.Module;
  /**
   * Let ORT pre-pack weights into a second, faster layout. Off on Workers: it costs memory that a
   * 128 MB isolate does not have (tiny-clip fp32 vision: 33.3 → 27.8 MB of wasm memory without it,
   * measured in workerd), for a few percent of speed. @defaultValue false
   */
  prepacking?: boolean;
  /** Passed to every `InferenceSession.create`. */
  sessionOptions?: object;
}

/** onnxruntime-web's WASM-SIMD build, single-threaded (Workers have no threads), from the precompiled module. */
export function workersWasmBackend(options: WorkersWasmBackendOptions = {}): Backend {
  const module = options.module ?? ortWasm;
  return ortBackend({
    name: 'wasm',
    priority: 10,
    preferred: WORKERS_VARIANT_ORDER,
    load: async () => ort as unknown as OrtModule,
    configure: async (m) => {
      const env = m.env as OrtWasmEnv;
      env.wasm.numThreads = 1;
      env.wasm.proxy = false;
      env.wasm.wasmBinary = MARKER;
      env.logLevel = 'error';
      // ORT starts its wasm on the first session; a throwaway session would cost memory, so start it directly.
      await withPrecompiledModule(module, () => startOrtWasm(m));
    },
    sessionOptions: {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
      ...(options.prepacking ? {} : { extra: { session: { disable_prepacking: '1' } } }),
      ...options.sessionOptions,
    },
  });
}

/**
 * ORT initialises its wasm inside the first `InferenceSession.create`. To keep the instantiate
 * shim's window short and deterministic, trigger that initialisation now with an empty model:
 * the wasm starts, then creating the session fails (an empty model is invalid), which we ignore
 * only when the wasm did start.
 */
async function startOrtWasm(m: OrtModule): Promise<void> {
  try {
    await m.InferenceSession.create(new Uint8Array(0));
  } catch (e) {
    if (memory === undefined) throw e;
  }
}
