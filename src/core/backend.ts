import { ClipEdgeError } from './errors.ts';
import type { Precision } from './precision.ts';
import type { ModelStream } from './model/source.ts';

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
  /**
   * True once the session is gone for good though nobody released it: Node's inference thread
   * crashed and took its sessions with it. Its owner drops it and creates a new one from the
   * source (TowerRunner does). @defaultValue undefined (never lost)
   */
  readonly lost?: boolean;
}

export interface OrtModule {
  readonly InferenceSession: { create(model: Uint8Array, options?: object): Promise<SessionLike> };
  readonly Tensor: new (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: readonly number[]) => TensorLike;
  readonly env: object;
}

/** Where a streamed model file is checked against the manifest: its name for messages, its size and sha256 when known. */
export interface InPlaceSessionOptions {
  where: string;
  expected?: { bytes?: number; sha256?: string };
}

/**
 * A backend's in-place loading: an ORT-format model streamed into the backend's own memory and used
 * there, never copied (onnxruntime-web's WASM build does it: src/core/ort/wasm/in-place.ts).
 */
export interface InPlaceSessions {
  createSession(model: ModelStream, options: InPlaceSessionOptions): Promise<SessionLike>;
  /** Bytes of the backend's memory, when it can tell. */
  memoryBytes(): number | undefined;
}

/** An inference backend: one ORT build plus its execution providers, registered with a priority. */
export interface Backend {
  /** Short name shown in responses: `wasm`, `node`, `webgpu`. */
  readonly name: string;
  /** Higher runs first when backends are resolved. */
  readonly priority: number;
  /** Variants this backend runs best, most preferred first (used when the variant is `auto`). */
  readonly preferred: readonly Precision[];
  /**
   * The vision variants this backend may run; another one goes to the next backend (an explicit
   * `backend` that cannot run it is an error). ORT's WebGPU build registers `FusedConv`, which a CNN's
   * int8 variant holds (quantize/passes/fuse-residual.ts), but its kernel reads no residual input.
   * @defaultValue every variant
   */
  readonly runs?: readonly Precision[];
  /** Loads and initialises the backend once; throws when it cannot run here. */
  init(): Promise<void>;
  /**
   * A session over the model's bytes. With `take`, the caller no longer needs the array and the
   * backend may take its buffer (Node's inference thread moves it to its thread, detaching it);
   * without, the array is left as it was.
   */
  createSession(model: Uint8Array, options?: { take?: boolean }): Promise<SessionLike>;
  /** Sessions over a model file streamed into the backend's memory and used in place, when the backend can (see InPlaceSessions). */
  readonly inPlace?: InPlaceSessions;
  tensor(type: 'float32', data: Float32Array, dims: readonly number[]): TensorLike;
  tensor(type: 'int64', data: BigInt64Array, dims: readonly number[]): TensorLike;
  /** Ends what the backend holds outside this thread (Node's inference thread); ClipEdge's `close()` calls it. */
  close?(): Promise<void>;
  /**
   * Set once the backend is down for good and only a restart of the process brings it back (Node's
   * inference thread crashed `maxCrashes` times in its window): the error every call now fails with.
   * The HTTP app's /healthz answers it (503), so that a liveness probe restarts the process.
   * @defaultValue undefined (never down for good)
   */
  readonly down?: Error;
  /**
   * Set while the backend's thread has crashed and no new one runs yet (Node's inference thread,
   * between a crash and the next call, which starts a new thread and re-creates the sessions):
   * `retryAfterMs` is what is left of the restart policy's back-off (0 once it is over: the next
   * call starts it at once). Status and /healthz report it; a 503 it causes says when to retry.
   * @defaultValue undefined (running, or never crashed)
   */
  readonly restarting?: { readonly retryAfterMs: number };
}

/**
 * Tries backends from the highest priority down and returns the first that initialises.
 * When none does, throws one BACKEND_UNAVAILABLE error that lists why each failed.
 */
export async function resolveBackend(backends: readonly Backend[], wanted?: string, accepts?: (b: Backend) => string | undefined): Promise<Backend> {
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
      const refusal = accepts?.(b);
      if (!refusal) return b;
      failures.push(`${b.name}: ${refusal}`);
    } catch (e) {
      failures.push(`${b.name}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  }
  throw new ClipEdgeError('BACKEND_UNAVAILABLE', `no inference backend could start — ${failures.join('; ')}`, {
    details: { failures },
  });
}
