import { ClipEdgeError } from '../errors.ts';

/**
 * Where a model folder's bytes come from. Each runtime supplies one: files on Node/Deno/Bun,
 * R2 or static assets on Workers, fetch + Cache Storage in browsers. Paths are relative to the
 * folder root and use `/`, e.g. `onnx/vision_model.onnx`.
 */
/** A file's bytes as a stream of chunks of known total size (R2 object body, fetch body, file). */
export interface ModelStream {
  readonly size: number;
  readonly body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

export interface ModelSource {
  /** For messages: a short name of the folder (never a secret URL). */
  readonly name: string;
  /** The file's bytes, or `undefined` when it does not exist. */
  read(path: string): Promise<Uint8Array | undefined>;
  /**
   * Each `read()` returns a new array that nothing else holds, so a backend may take it (Node's
   * inference thread moves a model file to its thread instead of copying it). Leave it unset for a
   * source that keeps its arrays (memorySource): they are copied, never taken.
   * @defaultValue false
   */
  readonly freshReads?: boolean;
  /** Whether the file exists, without reading it. */
  exists(path: string): Promise<boolean>;
  /**
   * The file as a stream, never held whole in JS (in-place loading fills ORT's heap from it).
   * Sources without it are read whole and streamed from that copy.
   */
  stream?(path: string): Promise<ModelStream | undefined>;
}

/** A model folder held in memory: for tests, and for browsers that already fetched the files. */
export function memorySource(name: string, files: Record<string, Uint8Array | string>): ModelSource {
  const enc = new TextEncoder();
  const get = (p: string) => {
    const f = files[p];
    return f === undefined ? undefined : typeof f === 'string' ? enc.encode(f) : f;
  };
  return {
    name,
    read: async (p) => get(p),
    exists: async (p) => files[p] !== undefined,
  };
}

/**
 * Refuses a model file path that could leave the folder or alias another file: absolute paths and
 * empty, `.` or `..` segments (sources keyed by URL or object name cannot rely on a filesystem's
 * own resolution). One rule for every such source: Workers (R2, assets) and browsers.
 */
export function checkModelPath(path: string): void {
  if (path.startsWith('/') || path.includes('\\') || path.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    throw new ClipEdgeError('BAD_INPUT', `invalid model file path "${path.slice(0, 80)}"`);
  }
}
