import * as ort from 'onnxruntime-web/wasm';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import type { Backend, OrtModule } from '../../core/backend.ts';
import { ortBackend } from '../../core/ort/backend.ts';
import { wrappedInstances } from '../../core/ort/wasm/instance.ts';
import type { Sha256Stream } from '../../core/ort/wasm/sha256.ts';
import { WORKERS_VARIANT_ORDER } from './variants.ts';

/**
 * onnxruntime-web on Workers. Workers refuse to compile WebAssembly at run time, so the `.wasm` is
 * imported as a module (compiled when the Worker is uploaded). ORT has no `instantiateWasm` hook:
 * given `env.wasm.wasmBinary` its loader calls `WebAssembly.instantiate(bytes, imports)`. We hand
 * it a small marker as the "binary" and, during ORT's start-up only, answer that call with an
 * instance of the precompiled module (src/core/ort/wasm/instance.ts), whose exports the in-place
 * loader then guards (weights used from the streamed model, src/core/ort/wasm/in-place.ts).
 */

/** Marker bytes standing in for the wasm binary; ORT copies them (`new Uint8Array(binary)`) before instantiating. */
const MARKER = new TextEncoder().encode('clip-edge:precompiled-ort-wasm');

const isMarker = (x: unknown): boolean =>
  x instanceof Uint8Array && x.byteLength === MARKER.byteLength && x.every((b, i) => b === MARKER[i]);

/** Bytes of ORT's wasm memory (what its sessions hold; it never shrinks). `undefined` before the first session. */
export const ortWasmMemoryBytes = (): number | undefined => wrappedInstances()[0]?.memory.buffer.byteLength;

/** Whether ORT's heap grows to what its allocator asks for, not 20 % over (src/core/ort/wasm/instance.ts); `undefined` before the first session. */
export const ortExactGrowth = (): boolean | undefined => wrappedInstances()[0]?.exactGrowth;

interface OrtWasmEnv {
  wasm: { numThreads: number; wasmBinary?: Uint8Array; proxy?: boolean; simd?: boolean };
  logLevel?: string;
}

/** Workers' native streaming digest (`crypto.DigestStream`), when present: hashing 88 MB in JS would cost ~1 s of CPU. */
function digestStreamSha256(): (() => Sha256Stream) | undefined {
  const DigestStream = (crypto as unknown as { DigestStream?: new (alg: string) => WritableStream<Uint8Array> & { digest: Promise<ArrayBuffer> } }).DigestStream;
  if (!DigestStream) return undefined;
  return () => {
    const stream = new DigestStream('SHA-256');
    const writer = stream.getWriter();
    let failed: unknown;
    return {
      // Not one await per chunk (an R2 body arrives in thousands of small chunks): wait only when the stream pushes back.
      update: (chunk) => {
        writer.write(chunk).catch((e: unknown) => (failed ??= e));
        return writer.ready;
      },
      digest: async () => {
        await writer.close();
        if (failed) throw failed;
        return Array.from(new Uint8Array(await stream.digest), (b) => b.toString(16).padStart(2, '0')).join('');
      },
    };
  };
}

export interface WorkersWasmBackendOptions {
  /** The compiled ORT wasm. @defaultValue `onnxruntime-web/ort-wasm-simd-threaded.wasm`, imported as a module */
  module?: WebAssembly.Module;
  /**
   * Let ORT pre-pack weights into a second, faster layout (`.onnx` variants only; in-place sessions
   * never pre-pack). Off on Workers: it costs memory that a 128 MB isolate does not have (tiny-clip
   * fp32 vision: 33.3 → 27.8 MB of wasm memory without it, measured in workerd). @defaultValue false
   */
  prepacking?: boolean;
  /** Passed to every `InferenceSession.create`. */
  sessionOptions?: object;
}

/** onnxruntime-web's WASM-SIMD build, single-threaded (Workers have no threads), from the precompiled module. */
export function workersWasmBackend(options: WorkersWasmBackendOptions = {}): Backend {
  const module = options.module ?? ortWasm;
  const sha256 = digestStreamSha256();
  return ortBackend({
    name: 'wasm',
    priority: 10,
    preferred: WORKERS_VARIANT_ORDER,
    load: async () => ort as unknown as OrtModule,
    configure: (m) => {
      const env = m.env as OrtWasmEnv;
      env.wasm.numThreads = 1;
      env.wasm.proxy = false;
      env.wasm.wasmBinary = MARKER;
      env.logLevel = 'error';
    },
    sessionOptions: {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
      ...(options.prepacking ? {} : { extra: { session: { disable_prepacking: '1' } } }),
      ...options.sessionOptions,
    },
    inPlace: {
      precompiled: { module, isMarker },
      // ORT's arena and memory patterns stay on: batch-1 activations fit in the heap's headroom (ViT-B/32 int8: 100.4 MiB either way).
      sessionOptions: { executionProviders: ['wasm'], graphOptimizationLevel: 'all', ...options.sessionOptions },
      ...(sha256 ? { sha256 } : {}),
    },
  });
}
