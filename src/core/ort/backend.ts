import { ClipEdgeError } from '../errors.ts';
import type { Backend, InPlaceSessionOptions, OrtModule } from '../backend.ts';
import type { ModelStream } from '../model/source.ts';
import type { Precision } from '../precision.ts';
import { createInPlaceLoader, type InPlaceLoader } from './wasm/in-place.ts';
import { withWrappedOrtInstance, wrappedInstances } from './wasm/instance.ts';
import type { Sha256Stream } from './wasm/sha256.ts';

export interface OrtBackendOptions {
  name: string;
  priority: number;
  preferred: readonly Precision[];
  /** Imports the ORT build (lazily: nothing is loaded until the backend is first used). */
  load: () => Promise<OrtModule>;
  /** Sets `ort.env` flags (threads, wasm location) once, before the first session. */
  configure?: (ort: OrtModule) => void | Promise<void>;
  /** Passed to every `InferenceSession.create`. */
  sessionOptions?: object;
  /**
   * Start ORT's wasm through the instantiate shim and offer `inPlace` sessions (onnxruntime-web's
   * WASM build only). `precompiled` answers ORT's instantiate with a compiled module (Workers).
   */
  inPlace?: {
    /**
     * Offer `inPlace` sessions. When false, ORT is still started through the shim, so that
     * another backend over the same ORT module (one wasm instance per realm) can load in place.
     * @defaultValue true
     */
    enabled?: boolean;
    precompiled?: { module: WebAssembly.Module; isMarker: (source: unknown) => boolean };
    /** Session options for in-place sessions. @defaultValue `sessionOptions` */
    sessionOptions?: object;
    /** A native incremental sha256 (e.g. Workers' DigestStream). @defaultValue @noble/hashes */
    sha256?: () => Sha256Stream;
    /**
     * Grow ORT's heap to what its allocator asks for rather than Emscripten's ≥ 20 % steps
     * (src/core/ort/wasm/instance.ts exactHeapGrowth; off only to measure the difference). @defaultValue true
     */
    exactGrowth?: boolean;
  };
}

/**
 * ORT initialises its wasm inside the first `InferenceSession.create`. To start it at a known
 * moment (inside the instantiate shim), create a session from an empty model: the wasm starts,
 * then creating the session fails (an empty model is invalid), which is ignored when it started.
 */
async function startOrtWasm(m: OrtModule, started: () => boolean): Promise<void> {
  try {
    await (await m.InferenceSession.create(new Uint8Array(0))).release?.();
  } catch (e) {
    if (!started()) throw e;
  }
}

/** A backend over any onnxruntime build; runtimes hand their build in, the core never imports one. */
export function ortBackend(options: OrtBackendOptions): Backend {
  let ready: Promise<OrtModule> | undefined;
  let ort: OrtModule | undefined;
  let loader: InPlaceLoader | undefined;
  const init = (): Promise<OrtModule> =>
    (ready ??= (async () => {
      const m = await options.load();
      await options.configure?.(m);
      if (options.inPlace) {
        await withWrappedOrtInstance(() => startOrtWasm(m, () => wrappedInstances().length > 0), options.inPlace.precompiled, options.inPlace.exactGrowth !== false);
        if (options.inPlace.enabled !== false) loader = await createInPlaceLoader(m);
      }
      ort = m;
      return m;
    })().catch((e) => {
      ready = undefined;
      throw e;
    }));
  return {
    name: options.name,
    priority: options.priority,
    preferred: options.preferred,
    init: async () => {
      await init();
    },
    async createSession(model) {
      const m = await init();
      return m.InferenceSession.create(model, options.sessionOptions);
    },
    ...(options.inPlace && options.inPlace.enabled !== false
      ? {
          inPlace: {
            async createSession(model: ModelStream, o: InPlaceSessionOptions) {
              await init();
              return loader!.createSession(model, {
                ...o,
                sessionOptions: options.inPlace!.sessionOptions ?? options.sessionOptions,
                ...(options.inPlace!.sha256 ? { sha256: options.inPlace!.sha256 } : {}),
              });
            },
            memoryBytes: () => loader?.wasmMemoryBytes(),
          },
        }
      : {}),
    tensor(type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: readonly number[]) {
      if (!ort) throw new ClipEdgeError('INTERNAL', `backend ${options.name} used before init()`);
      return new ort.Tensor(type, data, dims);
    },
  } as Backend;
}

