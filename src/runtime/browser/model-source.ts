import { ClipEdgeError } from '../../core/errors.ts';
import { sha256Hex } from '../../core/model/integrity.ts';
import { type ModelSource, checkModelPath } from '../../core/model/source.ts';
import { MODEL_WEB_INDEX, type ModelWebIndex } from '../../core/model/web-index.ts';
import { concatBytes } from '../../core/bytes.ts';

/** Bytes of one file arriving: for a download progress bar. */
export interface DownloadProgress {
  /** Folder-relative path, e.g. `onnx/vision_model_int8.onnx`. */
  path: string;
  loaded: number;
  total: number;
  /** True when the bytes came from Cache Storage (no download). */
  cached: boolean;
}

export interface FetchModelSourceOptions {
  /** Cache Storage cache that holds the files. @defaultValue 'clip-edge-models' */
  cacheName?: string;
  /** Called as bytes arrive (and once for a cache hit). */
  onProgress?: (p: DownloadProgress) => void;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
  /**
   * Told when a downloaded, verified file could not be stored in Cache Storage (over the origin's quota,
   * or an entry larger than the browser stores: Chromium refused RN50x64's 440 MB int8 file). The file is
   * used anyway; it is downloaded again next time. @defaultValue a `console.warn` naming the file and why
   */
  onCacheError?: (path: string, error: unknown) => void;
}

const checkPath = checkModelPath;

const warnNotCached = (path: string, e: unknown) =>
  console.warn(`[clip-edge] ${path} was not stored in Cache Storage (${e instanceof Error ? e.message : String(e)}); it is used now and downloaded again next time`);

/** Reads a response body, reporting the bytes received so far. */
export async function readWithProgress(res: Response, report: (loaded: number) => void): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const parts: Uint8Array[] = [];
  let loaded = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.byteLength;
    report(loaded);
  }
  return concatBytes(parts);
}

/** Deletes cached files of the folder at `base` that its current index no longer lists under the same hash. */
async function pruneCache(c: Cache | undefined, base: URL, idx: ModelWebIndex): Promise<void> {
  if (!c) return;
  for (const req of await c.keys()) {
    const u = new URL(req.url);
    if (!u.href.startsWith(base.href) || !u.searchParams.has('sha256')) continue;
    const path = decodeURI(u.pathname.slice(base.pathname.length));
    if (idx.files[path]?.sha256 !== u.searchParams.get('sha256')) await c.delete(req);
  }
}

/**
 * A model folder served over HTTP (`<baseUrl>/files.json` + the files), cached in Cache Storage:
 * each file is stored under `<url>?sha256=<hash>` and checked against the index's sha256, so a
 * second visit reads nothing from the network and works offline, and a changed model is fetched
 * again (old copies are deleted). The index itself is fetched network-first, the cached copy
 * used when offline.
 */
export function fetchModelSource(baseUrl: string | URL, options: FetchModelSourceOptions = {}): ModelSource & {
  /** The folder's file list (network first, cache when offline). */
  index(): Promise<ModelWebIndex>;
} {
  // Relative to the page (or the Worker's script), as fetch() would take it: '/models/tiny-clip/'.
  const base = new URL(baseUrl, globalThis.location?.href);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const cacheName = options.cacheName ?? 'clip-edge-models';
  const cache = () => (typeof caches === 'undefined' ? Promise.resolve(undefined) : caches.open(cacheName).catch(() => undefined));
  const name = base.pathname.replace(/\/$/, '');
  let indexP: Promise<ModelWebIndex> | undefined;

  const loadIndex = async (): Promise<ModelWebIndex> => {
    const url = new URL(MODEL_WEB_INDEX, base).href;
    const c = await cache();
    let index: ModelWebIndex | undefined;
    let why = '';
    try {
      const res = await doFetch(url, { cache: 'no-cache' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      index = (await res.clone().json()) as ModelWebIndex;
      await c?.put(url, res);
      void pruneCache(c, base, index);
    } catch (e) {
      why = e instanceof Error ? e.message : String(e);
      const hit = await c?.match(url);
      if (hit) index = (await hit.json()) as ModelWebIndex;
    }
    if (!index) throw new ClipEdgeError('MODEL_NOT_FOUND', `${name}/${MODEL_WEB_INDEX} could not be fetched (${why}) and is not cached`);
    if (index.format !== 'clip-edge/model-web-index@1' || typeof index.files !== 'object') {
      throw new ClipEdgeError('MODEL_INVALID', `${name}/${MODEL_WEB_INDEX} is not a clip-edge model index`);
    }
    return index;
  };
  const index = () => {
    indexP ??= loadIndex().catch((e) => {
      indexP = undefined;
      throw e;
    });
    return indexP;
  };

  const urlOf = (path: string, sha256: string) => {
    const u = new URL(path, base);
    u.searchParams.set('sha256', sha256);
    return u.href;
  };

  return {
    name,
    index,
    async exists(path) {
      checkPath(path);
      return Object.hasOwn((await index()).files, path);
    },
    async read(path) {
      checkPath(path);
      const files = (await index()).files;
      if (!Object.hasOwn(files, path)) return undefined;
      const entry = files[path]!;
      const url = urlOf(path, entry.sha256);
      const c = await cache();
      const hit = await c?.match(url);
      if (hit) {
        const bytes = new Uint8Array(await hit.arrayBuffer());
        if ((await sha256Hex(bytes)) === entry.sha256) {
          options.onProgress?.({ path, loaded: bytes.byteLength, total: bytes.byteLength, cached: true });
          return bytes;
        }
        await c!.delete(url); // a damaged copy: fetch it again
      }
      let res: Response;
      try {
        res = await doFetch(url);
      } catch (cause) {
        throw new ClipEdgeError('MODEL_NOT_FOUND', `${name}/${path} could not be downloaded (offline?) and is not cached`, { cause });
      }
      if (res.status === 404) return undefined;
      if (!res.ok) throw new ClipEdgeError('MODEL_NOT_FOUND', `${name}/${path}: HTTP ${res.status}`);
      const bytes = await readWithProgress(res, (loaded) => options.onProgress?.({ path, loaded, total: entry.bytes, cached: false }));
      const actual = await sha256Hex(bytes);
      if (actual !== entry.sha256) {
        throw new ClipEdgeError('INTEGRITY_MISMATCH', `${name}/${path} has sha256 ${actual}, the index says ${entry.sha256}: refusing to use it`);
      }
      try {
        await c?.put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': res.headers.get('content-type') ?? 'application/octet-stream' } }));
      } catch (e) {
        // Not stored: the verified bytes are still good for this load.
        (options.onCacheError ?? warnNotCached)(path, e);
      }
      return bytes;
    },
  };
}
