import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import type { Backend, OrtModule } from '../../core/backend.ts';
import { ortBackend } from '../../core/ort/backend.ts';
import { NATIVE_PREFERENCE, WASM_PREFERENCE } from '../../core/precision.ts';

export interface NodeBackendOptions {
  /**
   * Threads for onnxruntime. @defaultValue 1 — on small models and 2-core machines a second
   * thread was measured slower (see PLATFORM-NOTES); raise it for big models on big machines.
   */
  threads?: number;
  /**
   * Load ORT-format variants (`clip-edge quantize --ort`) in place: the weights stay in the model
   * bytes, ~1.0× the file in wasm memory instead of ~2.2×, with pre-packing off. That costs int8
   * variants nothing (onnxruntime-web's WASM build never pre-packs MatMulInteger weights), float32
   * MatMuls up to ~1.3× (bench/results/workers-prepacking.md). For memory-bound hosts; the WASM backend only. @defaultValue false
   */
  inPlace?: boolean;
  /**
   * Grow ORT's wasm heap to what its allocator asks for, not by Emscripten's ≥ 20 % steps (wasm memory
   * never shrinks). Off only to measure what it saves (`npm run bench:residual-fusion -- … --growth`). @defaultValue true
   */
  exactGrowth?: boolean;
}

/** onnxruntime-web's WASM-SIMD build, loaded from node_modules (works in Node, Deno and Bun). */
export function wasmBackend(options: NodeBackendOptions = {}): Backend {
  return ortBackend({
    name: 'wasm',
    priority: 10,
    preferred: WASM_PREFERENCE,
    load: async () => (await import('onnxruntime-web')) as unknown as OrtModule,
    configure: (ort) => {
      const env = ort.env as { wasm: { numThreads: number; proxy?: boolean }; logLevel?: string };
      env.wasm.numThreads = Math.max(1, Math.min(options.threads ?? 1, availableParallelism()));
      env.logLevel = 'error';
    },
    // ORT always starts through the instantiate shim (transparent), so that any backend of this process can load in place.
    inPlace: {
      enabled: !!options.inPlace,
      exactGrowth: options.exactGrowth !== false,
      sessionOptions: { executionProviders: ['wasm'], graphOptimizationLevel: 'all' },
    },
  });
}

/**
 * Native onnxruntime-node, when the optional package is installed (3–10× faster than WASM on
 * CPU). Install offline with `npm i onnxruntime-node --ignore-scripts` (its script downloads CUDA add-ons).
 */
export function nativeBackend(options: NodeBackendOptions = {}): Backend {
  const threads = Math.max(1, options.threads ?? 1);
  return ortBackend({
    name: 'node',
    priority: 20,
    preferred: NATIVE_PREFERENCE,
    load: async () => {
      // Resolve first so that "not installed" is a one-line reason, not a stack of loader errors.
      try {
        createRequire(import.meta.url).resolve('onnxruntime-node');
      } catch {
        throw new Error('onnxruntime-node is not installed (optional: npm i onnxruntime-node --ignore-scripts)');
      }
      const m = (await import('onnxruntime-node' as string)) as OrtModule & { default?: OrtModule };
      return m.InferenceSession ? m : m.default!;
    },
    sessionOptions: { intraOpNumThreads: threads, interOpNumThreads: 1, executionProviders: ['cpu'], logSeverityLevel: 3 },
  });
}

/** Backends for Node/Deno/Bun, best first; `backend: 'wasm'` forces the portable one. */
export const defaultNodeBackends = (options?: NodeBackendOptions): Backend[] => [nativeBackend(options), wasmBackend(options)];
