import { ClipEdgeError } from './errors.ts';
import type { Precision } from './precision.ts';
import { createInPlaceLoader, type InPlaceLoader, type InPlaceOptions, type ModelStream } from './ort/wasm/in-place.ts';
import { withWrappedOrtInstance, wrappedInstances } from './ort/wasm/instance.ts';
import type { Sha256Stream } from './ort/wasm/sha256.ts';

/** The slice of onnxruntime's API (common to onnxruntime-web and onnxruntime-node) that clip-edge uses. */
export interface TensorLike {
  readonly data: unknown;
  readonly dims: readonly number[];
  readonly type: string;
}

export interface TensorMetadataLike {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape?: readonly (number | string)[];
}

export interface SessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: readonly TensorMetadataLike[];
  readonly outputMetadata?: readonly TensorMetadataLike[];
  run(feeds: Record<string, TensorLike>, fetches?: readonly string[]): Promise<Record<string, TensorLike>>;
  release?(): Promise<void>;
}

export interface OrtModule {
  readonly InferenceSession: { create(model: Uint8Array, options?: object): Promise<SessionLike> };
  readonly Tensor: new (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: readonly number[]) => TensorLike;
  readonly env: object;
}

/** An inference backend: one ORT build plus its execution providers, registered with a priority. */
export interface Backend {
  /** Short name shown in responses: `wasm`, `node`, `webgpu`. */
  readonly name: string;
  /** Higher runs first when backends are resolved. */
  readonly priority: number;
  /** Variants this backend runs best, most preferred first (used when the variant is `auto`). */
  readonly preferred: readonly Precision[];
  /** Loads and initialises the backend once; throws when it cannot run here. */
  init(): Promise<void>;
  createSession(model: Uint8Array): Promise<SessionLike>;
  /**
   * Creates a session over an ORT-format model streamed into the backend's wasm heap and used in
   * place (src/core/ort/wasm/in-place.ts). Only backends built with `inPlace` have it.
   */
  createSessionInPlace?(model: ModelStream, options: Pick<InPlaceOptions, 'where' | 'expected'>): Promise<SessionLike>;
  /** Bytes of the backend's wasm memory, when it can tell (in-place backends). */
  wasmMemoryBytes?(): number | undefined;
  tensor(type: 'float32', data: Float32Array, dims: readonly number[]): TensorLike;
  tensor(type: 'int64', data: BigInt64Array, dims: readonly number[]): TensorLike;
}

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
   * Start ORT's wasm through the instantiate shim and offer `createSessionInPlace` (onnxruntime-web's
   * WASM build only). `precompiled` answers ORT's instantiate with a compiled module (Workers).
   */
  inPlace?: {
    /**
     * Offer `createSessionInPlace`. When false, ORT is still started through the shim, so that
     * another backend over the same ORT module (one wasm instance per realm) can load in place.
     * @defaultValue true
     */
    enabled?: boolean;
    precompiled?: { module: WebAssembly.Module; isMarker: (source: unknown) => boolean };
    /** Session options for in-place sessions. @defaultValue `sessionOptions` */
    sessionOptions?: object;
    /** A native incremental sha256 (e.g. Workers' DigestStream). @defaultValue @noble/hashes */
    sha256?: () => Sha256Stream;
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
        await withWrappedOrtInstance(() => startOrtWasm(m, () => wrappedInstances().length > 0), options.inPlace.precompiled);
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
          async createSessionInPlace(model: ModelStream, o: Pick<InPlaceOptions, 'where' | 'expected'>) {
            await init();
            return loader!.createSession(model, {
              ...o,
              sessionOptions: options.inPlace!.sessionOptions ?? options.sessionOptions,
              ...(options.inPlace!.sha256 ? { sha256: options.inPlace!.sha256 } : {}),
            });
          },
          wasmMemoryBytes: () => loader?.wasmMemoryBytes(),
        }
      : {}),
    tensor(type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: readonly number[]) {
      if (!ort) throw new ClipEdgeError('INTERNAL', `backend ${options.name} used before init()`);
      return new ort.Tensor(type, data, dims);
    },
  } as Backend;
}

/**
 * Tries backends from the highest priority down and returns the first that initialises.
 * When none does, throws one BACKEND_UNAVAILABLE error that lists why each failed.
 */
export async function resolveBackend(backends: readonly Backend[], wanted?: string): Promise<Backend> {
  const candidates = [...backends]
    .filter((b) => wanted === undefined || wanted === 'auto' || b.name === wanted)
    .sort((a, b) => b.priority - a.priority);
  if (!candidates.length) {
    throw new ClipEdgeError(
      'BACKEND_UNAVAILABLE',
      `no backend named "${wanted}" (registered: ${backends.map((b) => b.name).join(', ') || 'none'})`,
    );
  }
  const failures: string[] = [];
  for (const b of candidates) {
    try {
      await b.init();
      return b;
    } catch (e) {
      failures.push(`${b.name}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  }
  throw new ClipEdgeError('BACKEND_UNAVAILABLE', `no inference backend could start — ${failures.join('; ')}`, {
    details: { failures },
  });
}
