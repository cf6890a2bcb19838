import { ClipEdgeError } from '../../core/errors.ts';
import { sha256Hex } from '../../core/model/integrity.ts';
import { type ModelSource, type ModelStream, checkModelPath } from '../../core/model/source.ts';
import type { FetcherLike, R2BucketLike, WorkersEnv } from './bindings.ts';
import type { WorkersConfig } from './config.ts';

export interface CachedSourceOptions {
  /**
   * Files up to this size stay in memory for the isolate's life (manifest, configs, tokenizer).
   * ONNX files are read once per session and not kept: the session holds the weights.
   * @defaultValue 4 MiB
   */
  keepBytes?: number;
}

const checkPath = checkModelPath;

/** Wraps a reader with an isolate-wide cache of small files and of in-flight reads. */
function cached(
  name: string,
  read: (path: string) => Promise<Uint8Array | undefined>,
  exists: (path: string) => Promise<boolean>,
  o: CachedSourceOptions,
  stream?: (path: string) => Promise<ModelStream | undefined>,
): ModelSource {
  const keep = o.keepBytes ?? 4 * 1024 * 1024;
  const small = new Map<string, Uint8Array | undefined>();
  const inflight = new Map<string, Promise<Uint8Array | undefined>>();
  return {
    name,
    async read(path) {
      checkPath(path);
      if (small.has(path)) return small.get(path);
      let p = inflight.get(path);
      if (!p) {
        p = read(path).finally(() => inflight.delete(path));
        inflight.set(path, p);
      }
      const bytes = await p;
      if (bytes === undefined || bytes.byteLength <= keep) small.set(path, bytes);
      return bytes;
    },
    async exists(path) {
      checkPath(path);
      if (small.has(path)) return small.get(path) !== undefined;
      return exists(path);
    },
    ...(stream
      ? {
          async stream(path: string) {
            checkPath(path);
            return stream(path);
          },
        }
      : {}),
  };
}

/** A model folder in R2 under `<prefix>/` (e.g. `tiny-clip/onnx/vision_model.onnx`). */
export function r2ModelSource(bucket: R2BucketLike, prefix: string, options: CachedSourceOptions = {}): ModelSource {
  const key = (path: string) => (prefix ? `${prefix.replace(/\/+$/, '')}/${path}` : path);
  return cached(
    `r2:${prefix}`,
    async (path) => {
      const obj = await bucket.get(key(path));
      return obj ? new Uint8Array(await obj.arrayBuffer()) : undefined;
    },
    async (path) => (await bucket.head(key(path))) !== null,
    options,
    // Streamed, never held whole: the in-place loader copies each chunk straight into ORT's heap.
    async (path) => {
      const obj = await bucket.get(key(path));
      if (!obj) return undefined;
      return { size: obj.size, body: obj.body ?? [new Uint8Array(await obj.arrayBuffer())] };
    },
  );
}

/**
 * A model folder among the Worker's static assets, under `<base>/` (e.g. `/models/tiny-clip/…`).
 * Static assets are limited to 25 MiB per file: small models only.
 */
export function assetsModelSource(assets: FetcherLike, base: string, options: CachedSourceOptions = {}): ModelSource {
  const url = (path: string) => `https://assets.local/${base.replace(/^\/+|\/+$/g, '')}/${path}`;
  const get = async (path: string, method: 'GET' | 'HEAD') => {
    const res = await assets.fetch(url(path), { method });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new ClipEdgeError('MODEL_NOT_FOUND', `static asset ${base}/${path}: HTTP ${res.status}`);
    return res;
  };
  return cached(
    `assets:${base}`,
    async (path) => {
      const res = await get(path, 'GET');
      return res ? new Uint8Array(await res.arrayBuffer()) : undefined;
    },
    async (path) => {
      const res = await get(path, 'HEAD');
      await res?.body?.cancel();
      return res !== undefined;
    },
    options,
    async (path) => {
      const res = await get(path, 'GET');
      if (!res) return undefined;
      const size = Number(res.headers.get('content-length'));
      if (!res.body || !Number.isSafeInteger(size) || size <= 0) return { ...(await bytesOf(res)) };
      return { size, body: res.body };
    },
  );
}

const bytesOf = async (res: Response): Promise<ModelStream> => {
  const b = new Uint8Array(await res.arrayBuffer());
  return { size: b.byteLength, body: [b] };
};

/** sha256 of a model folder's manifest.json: what both Workers compare to know they serve the same model. */
export async function manifestSha256(source: ModelSource): Promise<string> {
  const bytes = await source.read('manifest.json');
  if (!bytes) throw new ClipEdgeError('MODEL_INVALID', `${source.name}/manifest.json is missing: Workers need the manifest (sizes and sha256 of every file)`);
  return sha256Hex(bytes);
}

/** The model folder the bindings point at (R2, or static assets). */
export function modelSourceOf(env: WorkersEnv, cfg: WorkersConfig): ModelSource {
  if (cfg.modelSource === 'r2') {
    if (!env.MODELS) throw new ClipEdgeError('MODEL_NOT_FOUND', 'CLIP_EDGE_MODEL_SOURCE is r2 but no R2 bucket is bound as MODELS (wrangler.toml [[r2_buckets]])');
    return r2ModelSource(env.MODELS, cfg.model);
  }
  if (!env.ASSETS) throw new ClipEdgeError('MODEL_NOT_FOUND', 'no model source: bind an R2 bucket as MODELS or static assets as ASSETS (wrangler.toml)');
  return assetsModelSource(env.ASSETS, `models/${cfg.model}`);
}
