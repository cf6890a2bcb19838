import type { Backend, OrtModule } from '../../core/backend.ts';
import { ortBackend } from '../../core/ort/backend.ts';
import { type Precision, WASM_PREFERENCE } from '../../core/precision.ts';

/** The slice of WebGPU's API used to pick a variant (typed here: not every TS lib has WebGPU types). */
interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'low-power' | 'high-performance' }): Promise<{ readonly features: ReadonlySet<string> } | null>;
}

/** ORT's browser builds and the wasm each loads (onnxruntime-web 1.30 `dist/`). */
export const ORT_BUILDS = Object.freeze({
  wasm: { loader: 'ort.wasm.min.mjs', glue: 'ort-wasm-simd-threaded.mjs', wasm: 'ort-wasm-simd-threaded.wasm' },
  webgpu: { loader: 'ort.webgpu.min.mjs', glue: 'ort-wasm-simd-threaded.asyncify.mjs', wasm: 'ort-wasm-simd-threaded.asyncify.wasm' },
} as const);

export type OrtBuild = keyof typeof ORT_BUILDS;

export interface BrowserBackendOptions {
  /**
   * Folder URL that serves onnxruntime-web's `dist/` files (ORT_BUILDS): the loader is imported
   * from there and its wasm fetched from there.
   */
  ortBaseUrl: string | URL;
  /** Imports an ORT build instead of `import(<ortBaseUrl>/<loader>)`, e.g. `() => import('onnxruntime-web/wasm')` in a bundler. */
  load?: (build: OrtBuild) => Promise<OrtModule>;
  /**
   * Supplies the `.wasm` bytes (e.g. from Cache Storage, with a progress bar); by default ORT
   * fetches `<ortBaseUrl>/<wasm>` itself.
   */
  wasmBinary?: (file: string) => Promise<ArrayBuffer | Uint8Array>;
  /**
   * WASM threads. @defaultValue `min(4, hardwareConcurrency)` when the page is cross-origin
   * isolated (SharedArrayBuffer available), else 1
   */
  threads?: number;
}

/** Threads ORT may use here: only cross-origin-isolated pages have SharedArrayBuffer. */
export function defaultThreads(): number {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return isolated ? Math.max(1, Math.min(4, globalThis.navigator?.hardwareConcurrency ?? 1)) : 1;
}

const gpu = (): GpuLike | undefined => (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu;

function ortFor(build: OrtBuild, o: BrowserBackendOptions) {
  const files = ORT_BUILDS[build];
  const base = new URL(o.ortBaseUrl, globalThis.location?.href);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return {
    load: () => (o.load ? o.load(build) : (import(/* @vite-ignore */ new URL(files.loader, base).href) as Promise<OrtModule>)),
    configure: async (ort: OrtModule) => {
      const env = ort.env as { wasm: { numThreads: number; wasmPaths?: string; wasmBinary?: ArrayBuffer | Uint8Array; proxy?: boolean }; logLevel?: string };
      env.wasm.numThreads = o.threads ?? defaultThreads();
      env.wasm.wasmPaths = base.href;
      env.wasm.proxy = false; // the kit already runs in a Web Worker
      env.logLevel = 'error';
      if (o.wasmBinary) env.wasm.wasmBinary = await o.wasmBinary(files.wasm);
    },
  };
}

/** onnxruntime-web's WASM-SIMD build: runs everywhere; int8 variants are fastest there. */
export function browserWasmBackend(o: BrowserBackendOptions): Backend {
  return ortBackend({
    name: 'wasm',
    priority: 10,
    preferred: WASM_PREFERENCE,
    ...ortFor('wasm', o),
    sessionOptions: { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 },
  });
}

/**
 * onnxruntime-web's WebGPU build, when the browser has a WebGPU adapter. Variants: fp16 when the
 * adapter has `shader-f16` (ORT refuses the fp16 graph without it), else fp32. It does not run int8
 * (`runs`): MatMulInteger has no WebGPU kernel, and a CNN's int8 variant holds FusedConv with a residual
 * input that ORT's WebGPU Conv kernel does not read (onnxruntime webgpu/nn/conv.cc takes X, W, B): an
 * int8 variant asked for goes to the WASM backend.
 */
export function browserWebGpuBackend(o: BrowserBackendOptions): Backend {
  let f16 = false;
  const { load, configure } = ortFor('webgpu', o);
  const inner = ortBackend({
    name: 'webgpu',
    priority: 30,
    preferred: [],
    load: async () => {
      const g = gpu();
      if (!g) throw new Error('this browser has no WebGPU (navigator.gpu is missing)');
      const adapter = await g.requestAdapter();
      if (!adapter) throw new Error('no WebGPU adapter is available');
      f16 = adapter.features.has('shader-f16');
      return load();
    },
    configure,
    sessionOptions: { executionProviders: ['webgpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3 },
  });
  return {
    name: inner.name,
    priority: inner.priority,
    get preferred(): readonly Precision[] {
      return f16 ? ['fp16', 'fp32'] : ['fp32'];
    },
    // Not int8 (see above): the WASM backend runs it, and runs int8 fastest anyway.
    runs: ['fp32', 'fp16', 'q4'],
    init: () => inner.init(),
    createSession: (model) => inner.createSession(model),
    tensor: inner.tensor.bind(inner) as Backend['tensor'],
  };
}

/** WebGPU first (when an adapter exists), then WASM. */
export const defaultBrowserBackends = (o: BrowserBackendOptions): Backend[] => [browserWebGpuBackend(o), browserWasmBackend(o)];
