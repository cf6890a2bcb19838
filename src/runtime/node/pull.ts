/**
 * `clip-edge pull`: download a CLIP model folder from a Hugging Face-compatible hub into the
 * local cache. Files stream into `<file>.partial` (resumed with `Range` when one is left over),
 * are hashed while they stream, and are renamed into place only once size and sha256 match what
 * the hub (`X-Linked-*` headers, API listing) and our manifest.json say.
 *
 * Node-side on purpose: it writes to disk and hashes incrementally with `node:crypto`, which
 * Web Crypto cannot do.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClipEdgeError } from '../../core/errors.ts';
import { SAFE_RELATIVE_PATH, manifestFiles, parseManifest as parseManifestSchema } from '../../core/model/manifest.ts';
import {
  PRECISION_SUFFIX,
  PRECISIONS,
  TOWERS,
  isPrecision,
  onnxFileOf,
  type Precision,
  type Tower,
} from '../../core/precision.ts';

export interface PullOptions {
  /** Hub repo id, `org/name` (or a bare `name`). */
  repo: string;
  /** Branch, tag or commit. @defaultValue `"main"` */
  revision?: string;
  /** Hub root; the hub's URL scheme is `{base}/{repo}/resolve/{revision}/{path}`.
   * @defaultValue env `HF_ENDPOINT`, else `"https://huggingface.co"` */
  baseUrl?: string;
  /** Cache root; the folder lands in `{cacheDir}/{repo}/{revision}` (`/` in a revision becomes `--`).
   * @defaultValue env `CLIP_EDGE_CACHE`, else `~/.cache/clip-edge/models` */
  cacheDir?: string;
  /** Sent as `Authorization: Bearer …` for private or gated repos. @defaultValue env `HF_TOKEN` */
  token?: string;
  /** Precisions to fetch. @defaultValue every precision the repo ships */
  variants?: readonly Precision[];
  /** Towers to fetch. @defaultValue `['vision', 'text']` */
  towers?: readonly Tower[];
  /** Progress events (per file and total bytes); see `createPullProgress` for a renderer. */
  onProgress?: (event: PullEvent) => void;
  /** @defaultValue `globalThis.fetch` */
  fetch?: typeof globalThis.fetch;
  /** Aborts the pull; the `.partial` file stays so the next pull resumes it. */
  signal?: AbortSignal;
  /** A request fails with `NETWORK` after this long without a response or new bytes. @defaultValue `30000` */
  idleTimeoutMs?: number;
  /** How many times one call resumes a download that broke off. @defaultValue `2` */
  retries?: number;
  /** Where the env defaults are read. @defaultValue `process.env` */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface ResolvedPullOptions {
  repo: string;
  revision: string;
  baseUrl: string;
  cacheDir: string;
  token: string | undefined;
  /** `undefined`: every precision found. */
  variants: readonly Precision[] | undefined;
  towers: readonly Tower[];
  idleTimeoutMs: number;
  retries: number;
  fetch: typeof globalThis.fetch;
  signal: AbortSignal | undefined;
  emit: (event: PullEvent) => void;
}

/** Which claim a file's sha256 was checked against (`none`: size at most). */
export type VerifiedBy = 'hub' | 'manifest' | 'none';

export interface PulledFile {
  /** Path inside the model folder, `/`-separated. */
  path: string;
  bytes: number;
  sha256: string;
  verifiedBy: VerifiedBy;
  status: 'downloaded' | 'resumed' | 'skipped';
}

/** How the file list was found: hub API, the repo's manifest.json, or a fixed list probed with HEAD. */
export type Listing = 'api' | 'manifest' | 'fixed';

export interface PullResult {
  /** Local model folder, ready for `loadModel`. */
  dir: string;
  repo: string;
  revision: string;
  listing: Listing;
  files: PulledFile[];
  /** Precisions for which every requested tower is present as a separate file. */
  variants: Precision[];
  warnings: string[];
}

export type PullEvent =
  | { type: 'plan'; repo: string; revision: string; listing: Listing; files: { path: string; bytes: number | undefined }[]; totalBytes: number }
  | { type: 'file-start'; path: string; bytes: number | undefined; offset: number }
  | { type: 'file-progress'; path: string; received: number; bytes: number | undefined; totalReceived: number; totalBytes: number }
  | { type: 'file-done'; file: PulledFile; totalReceived: number; totalBytes: number }
  | { type: 'warning'; message: string };

const DEFAULT_BASE_URL = 'https://huggingface.co';
const REPO_SEGMENT = /^[A-Za-z0-9][\w.-]{0,95}$/;
const REVISION = /^[A-Za-z0-9][\w.\-/]{0,254}$/;
const SAFE_PATH = SAFE_RELATIVE_PATH;
const SHA256 = /^[0-9a-f]{64}$/;

// What a CLIP model folder needs, and nothing else (no pytorch/flax/safetensors weights).
const CONFIG_FILE = /^[A-Za-z0-9][\w.-]*\.json$|^merges\.txt$/;
const TOWER_FILE = /^onnx\/(vision|text)_model((?:_[A-Za-z0-9]+)*)\.onnx$/;
const COMBINED_FILE = /^onnx\/model((?:_[A-Za-z0-9]+)*)\.onnx$/;
const DATA_FILE = /^(onnx\/[\w.-]+\.onnx)(?:_data(?:_\d+)?|\.data)$/;
const PROMPT_FILE = /^prompts\//;
const FIXED_CONFIGS = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];
// transformers.js names its 8-bit files `_quantized`; probed even while the precision table lacks it.
const EXTRA_SUFFIXES = ['_quantized'];

/** Normalises options once: env defaults, validation (BAD_INPUT), no I/O. */
export function resolvePullOptions(options: PullOptions): ResolvedPullOptions {
  const env = options.env ?? process.env;
  const repo = typeof options.repo === 'string' ? options.repo : '';
  const segments = repo.split('/');
  if (segments.length > 2 || !segments.every((s) => REPO_SEGMENT.test(s) && !s.includes('..'))) {
    throw new ClipEdgeError('BAD_INPUT', `invalid repo id "${repo}": expected "org/name" (letters, digits, - _ .)`);
  }
  const revision = options.revision ?? 'main';
  if (!REVISION.test(revision) || revision.includes('..') || revision.includes('//') || revision.endsWith('/')) {
    throw new ClipEdgeError('BAD_INPUT', `invalid revision "${revision}"`);
  }
  const baseUrl = parseBaseUrl(options.baseUrl ?? env.HF_ENDPOINT ?? DEFAULT_BASE_URL);
  const cacheDir = expandHome(options.cacheDir ?? env.CLIP_EDGE_CACHE ?? join(homedir(), '.cache', 'clip-edge', 'models'));
  for (const v of options.variants ?? []) {
    if (!isPrecision(v)) throw new ClipEdgeError('BAD_INPUT', `unknown precision "${String(v)}" (known: ${PRECISIONS.join(', ')})`);
  }
  const towers = options.towers ?? TOWERS;
  if (towers.length === 0 || !towers.every((t) => TOWERS.includes(t))) {
    throw new ClipEdgeError('BAD_INPUT', `towers must be a non-empty subset of ${TOWERS.join(', ')}`);
  }
  const onProgress = options.onProgress;
  return {
    repo,
    revision,
    baseUrl,
    cacheDir,
    token: options.token ?? (env.HF_TOKEN || undefined),
    variants: options.variants?.length ? [...options.variants] : undefined,
    towers: [...towers],
    idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
    retries: Math.max(0, options.retries ?? 2),
    fetch: options.fetch ?? globalThis.fetch,
    signal: options.signal,
    emit: onProgress ? (e) => onProgress(e) : () => {},
  };
}

function parseBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ClipEdgeError('BAD_INPUT', `invalid hub base URL "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ClipEdgeError('BAD_INPUT', `hub base URL must be http(s): "${raw}"`);
  }
  if (url.username || url.password) {
    throw new ClipEdgeError('BAD_INPUT', 'hub base URL must not carry credentials; set HF_TOKEN instead');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

const expandHome = (p: string): string => resolve(p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p);

/** Local folder a pull of `repo@revision` writes to. */
export const modelDirOf = (o: Pick<ResolvedPullOptions, 'cacheDir' | 'repo' | 'revision'>): string =>
  join(o.cacheDir, ...o.repo.split('/'), o.revision.replaceAll('/', '--'));

/** Downloads (or completes) the model folder of `options.repo` and returns where it is. */
export async function pullModel(options: PullOptions): Promise<PullResult> {
  const o = resolvePullOptions(options);
  o.signal?.throwIfAborted();
  const dir = modelDirOf(o);
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    o.emit({ type: 'warning', message });
  };

  const { listing, entries, manifest } = await listFiles(o);
  const present = await probeAll(o, entries);
  if (listing !== 'api') {
    // Without a listing, a combined model and external data can only be probed for.
    if (!present.some((e) => TOWER_FILE.test(e.path))) present.push(...await probeAll(o, combinedCandidates(o)));
    present.push(...await probeAll(o, present.filter((e) => e.path.endsWith('.onnx')).map((e) => optional(`${e.path}_data`))));
  }
  checkSelection(o, present, warn);

  // manifest.json goes first: its bytes+sha256 become claims for the ONNX files.
  present.sort((a, b) => Number(b.path === 'manifest.json') - Number(a.path === 'manifest.json'));
  if (manifest) applyManifest(present, manifest);
  const totals = { received: 0, bytes: present.reduce((n, e) => n + (expectedBytes(e) ?? 0), 0) };
  o.emit({
    type: 'plan', repo: o.repo, revision: o.revision, listing,
    files: present.map((e) => ({ path: e.path, bytes: expectedBytes(e) })), totalBytes: totals.bytes,
  });

  const files: PulledFile[] = [];
  for (const entry of present) {
    const file = await pullFile(o, dir, entry, totals);
    files.push(file);
    o.emit({ type: 'file-done', file, totalReceived: totals.received, totalBytes: totals.bytes });
    if (entry.path === 'manifest.json' && !manifest) {
      const listed = parseManifest(o, await readFile(join(dir, 'manifest.json'), 'utf8'));
      if (listed) applyManifest(present, listed);
      else warn('manifest.json is not a clip-edge manifest (no "variants"); files are checked against the hub only');
    }
  }
  const have = new Set(files.map((f) => f.path));
  const variants = PRECISIONS.filter((p) => o.towers.every((t) => have.has(onnxFileOf(t, p))));
  return { dir, repo: o.repo, revision: o.revision, listing, files, variants, warnings };
}

// ---------------------------------------------------------------- listing

/** Something a hub or manifest says about a file; every claim must hold. */
interface Claim {
  by: 'hub' | 'manifest';
  bytes?: number;
  sha256?: string;
}

interface Entry {
  path: string;
  /** 404 on a required file is MODEL_NOT_FOUND; an optional one is left out. */
  required: boolean;
  claims: Claim[];
}

type ManifestFiles = { precision: string; tower: Tower; file: string; bytes?: number; sha256?: string }[];

async function listFiles(o: ResolvedPullOptions): Promise<{ listing: Listing; entries: Entry[]; manifest?: ManifestFiles }> {
  const fromApi = await listFromApi(o);
  if (fromApi) return { listing: 'api', entries: fromApi };

  const url = fileUrl(o, 'manifest.json');
  const text = await request(o, url, { headers: headersFor(o, url) }, async (res) => {
    if (res.status !== 404 || isRepoLevel404(res)) return readText(o, res, url);
    await res.body?.cancel();
    return null;
  }, { path: 'manifest.json' });
  const configs = FIXED_CONFIGS.map((path) => ({ ...optional(path), required: path === 'config.json' }));
  const manifest = text === null ? undefined : parseManifest(o, text);
  if (manifest) {
    const onnx = manifest.filter((m) => o.towers.includes(m.tower) && (!o.variants || o.variants.some((v) => v === m.precision)));
    const paths = [...new Set(onnx.map((m) => m.file))];
    return { listing: 'manifest', manifest, entries: [...configs, { path: 'manifest.json', required: true, claims: [] }, ...paths.map((path) => ({ path, required: true, claims: [] }))] };
  }
  const suffixes = new Set<string>(o.variants ? o.variants.map((v) => PRECISION_SUFFIX[v]) : [...Object.values(PRECISION_SUFFIX), ...EXTRA_SUFFIXES]);
  const onnx = o.towers.flatMap((t) => [...suffixes].map((s) => `onnx/${t}_model${s}.onnx`));
  return { listing: 'fixed', entries: [...configs, optional('manifest.json'), ...onnx.map(optional)] };
}

/** The hub API's file list, or undefined when this hub has no API (a plain mirror). */
async function listFromApi(o: ResolvedPullOptions): Promise<Entry[] | undefined> {
  const url = `${o.baseUrl}/api/models/${o.repo}/revision/${encodeURIComponent(o.revision)}?blobs=true`;
  const text = await request(o, url, { headers: { ...headersFor(o, url), accept: 'application/json' } }, async (res) => {
    if (res.status === 401 || res.status === 403 || isRepoLevel404(res)) return undefined; // becomes the error
    if (res.ok) return readText(o, res, url);
    await res.body?.cancel();
    return null; // no API on this hub: fall back to manifest.json
  });
  if (text === null) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const siblings = (json as { siblings?: unknown }).siblings;
  if (!Array.isArray(siblings)) return undefined;
  const claims = new Map<string, Claim[]>();
  for (const s of siblings as { rfilename?: unknown; size?: unknown; lfs?: { sha256?: unknown; size?: unknown } }[]) {
    if (typeof s?.rfilename !== 'string' || !SAFE_PATH.test(s.rfilename)) continue;
    const bytes = asSize(s.lfs?.size) ?? asSize(s.size);
    const sha256 = typeof s.lfs?.sha256 === 'string' && SHA256.test(s.lfs.sha256) ? s.lfs.sha256 : undefined;
    claims.set(s.rfilename, [{ by: 'hub', ...(bytes !== undefined && { bytes }), ...(sha256 && { sha256 }) }]);
  }
  return selectPaths(o, [...claims.keys()]).map((path) => ({ path, required: true, claims: claims.get(path) ?? [] }));
}

/** The subset of a repo listing a CLIP model folder needs, for the chosen towers and precisions. */
function selectPaths(o: ResolvedPullOptions, paths: readonly string[]): string[] {
  const towerFiles = paths.filter((p) => {
    const m = TOWER_FILE.exec(p);
    return m && o.towers.includes(m[1] as Tower) && suffixWanted(o, m[2] ?? '');
  });
  const onnx = towerFiles.length > 0 ? towerFiles : paths.filter((p) => suffixWanted(o, COMBINED_FILE.exec(p)?.[1] ?? '-'));
  const keep = new Set(onnx);
  return paths.filter((p) =>
    keep.has(p) ||
    (!p.includes('/') && CONFIG_FILE.test(p)) ||
    PROMPT_FILE.test(p) ||
    keep.has(DATA_FILE.exec(p)?.[1] ?? ''),
  );
}

const suffixWanted = (o: ResolvedPullOptions, suffix: string): boolean =>
  suffix !== '-' && (!o.variants || o.variants.some((v) => PRECISION_SUFFIX[v] === suffix));

const optional = (path: string): Entry => ({ path, required: false, claims: [] });

const combinedCandidates = (o: ResolvedPullOptions): Entry[] =>
  (o.variants ?? PRECISIONS).map((v) => optional(`onnx/model${PRECISION_SUFFIX[v]}.onnx`));

function checkSelection(o: ResolvedPullOptions, present: readonly Entry[], warn: (m: string) => void): void {
  const onnx = present.filter((e) => e.path.endsWith('.onnx')).map((e) => e.path);
  if (onnx.length === 0) {
    const which = o.variants ? ` in precision ${o.variants.join(', ')}` : '';
    throw new ClipEdgeError('MODEL_NOT_FOUND',
      `no ONNX files for tower ${o.towers.join(', ')}${which} in ${o.repo}@${o.revision} on ${o.baseUrl}`,
      { details: { repo: o.repo, revision: o.revision } });
  }
  for (const path of onnx) {
    if (COMBINED_FILE.test(path)) {
      warn(`${path} is a combined vision+text export: it is downloaded, but the runtime only loads separate onnx/vision_model*.onnx and onnx/text_model*.onnx files`);
    } else if (!PRECISIONS.some((p) => PRECISION_SUFFIX[p] === TOWER_FILE.exec(path)?.[2])) {
      warn(`${path} has no precision in the table (${PRECISIONS.join(', ')}); the runtime will not pick it by precision`);
    }
  }
}

/**
 * The files our manifest.json lists; `undefined` when it is not ours (not JSON, no `variants`).
 * A manifest of ours that fails ManifestSchema is MODEL_INVALID: its hashes cannot be trusted.
 */
function parseManifest(o: ResolvedPullOptions, text: string): ManifestFiles | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const variants = (json as { variants?: unknown })?.variants;
  if (typeof variants !== 'object' || variants === null || Array.isArray(variants)) return undefined;
  return manifestFiles(parseManifestSchema(json, `manifest.json of ${o.repo}@${o.revision}`)).map(({ precision, tower, file }) => ({
    precision,
    tower,
    file: file.file,
    ...(file.bytes !== undefined && { bytes: file.bytes }),
    ...(file.sha256 !== undefined && { sha256: file.sha256 }),
  }));
}

function applyManifest(entries: readonly Entry[], manifest: ManifestFiles): void {
  for (const m of manifest) {
    const entry = entries.find((e) => e.path === m.file);
    if (!entry || entry.claims.some((c) => c.by === 'manifest')) continue;
    entry.claims.push({ by: 'manifest', ...(m.bytes !== undefined && { bytes: m.bytes }), ...(m.sha256 && { sha256: m.sha256 }) });
  }
}

// ---------------------------------------------------------------- probing (HEAD)

async function probeAll(o: ResolvedPullOptions, entries: readonly Entry[]): Promise<Entry[]> {
  const out: (Entry | undefined)[] = new Array(entries.length);
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const i = next++;
      out[i] = await probe(o, entries[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, entries.length) }, worker));
  return out.filter((e): e is Entry => e !== undefined);
}

/**
 * HEAD without following redirects: huggingface.co puts `X-Linked-Size` / `X-Linked-ETag` (the
 * LFS sha256) on the redirect to its CDN, not on the CDN's answer.
 */
async function probe(o: ResolvedPullOptions, entry: Entry): Promise<Entry | undefined> {
  let url = fileUrl(o, entry.path);
  for (let hop = 0; hop < 5; hop++) {
    const found = await request(o, url, { method: 'HEAD', redirect: 'manual', headers: headersFor(o, url) }, async (res) => {
      if (res.status === 404 && !entry.required) return 'absent' as const;
      if (res.status === 405 || res.status === 501) return [] as Claim[]; // no HEAD here: GET will tell
      if (!res.ok && !(res.status >= 300 && res.status < 400)) return undefined; // thrown by request()
      const linkedSize = asSize(res.headers.get('x-linked-size'));
      const linkedSha = sha256Of(res.headers.get('x-linked-etag'));
      const location = res.headers.get('location');
      if (res.status >= 300 && linkedSize === undefined && linkedSha === undefined && location) {
        return new URL(location, url).href;
      }
      const size = linkedSize ?? (res.status < 300 && !res.headers.get('content-encoding') ? asSize(res.headers.get('content-length')) : undefined);
      const sha = linkedSha ?? sha256Of(res.headers.get('etag'));
      return size === undefined && sha === undefined ? [] : [{ by: 'hub' as const, ...(size !== undefined && { bytes: size }), ...(sha && { sha256: sha }) }];
    }, { path: entry.path });
    if (found === 'absent') return undefined;
    if (typeof found === 'string') {
      url = found;
      continue;
    }
    return { ...entry, claims: [...entry.claims, ...found] };
  }
  throw new ClipEdgeError('NETWORK', `too many redirects for ${fileUrl(o, entry.path)}`);
}

// ---------------------------------------------------------------- download

type Totals = { received: number; bytes: number };

async function pullFile(o: ResolvedPullOptions, dir: string, entry: Entry, totals: Totals): Promise<PulledFile> {
  const final = resolve(dir, ...entry.path.split('/'));
  if (!final.startsWith(dir + sep)) throw new ClipEdgeError('BAD_INPUT', `refusing to write outside the model folder: ${entry.path}`);
  const verifiedBy: VerifiedBy = entry.claims.some((c) => c.by === 'hub' && c.sha256) ? 'hub'
    : entry.claims.some((c) => c.sha256) ? 'manifest' : 'none';

  const existing = await stat(final).catch(() => undefined);
  if (existing?.isFile() && entry.claims.length > 0 && entry.claims.every((c) => c.bytes === undefined || c.bytes === existing.size)) {
    const sha256 = await hashFile(final, createHash('sha256'));
    if (entry.claims.every((c) => c.sha256 === undefined || c.sha256 === sha256)) {
      totals.received += existing.size;
      return { path: entry.path, bytes: existing.size, sha256, verifiedBy, status: 'skipped' };
    }
  }
  await mkdir(dirname(final), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const before = totals.received;
    try {
      const { bytes, sha256, resumed } = await download(o, entry, final, totals);
      return { path: entry.path, bytes, sha256, verifiedBy, status: resumed ? 'resumed' : 'downloaded' };
    } catch (e) {
      totals.received = before;
      if (!isResumable(e) || attempt >= o.retries) throw e;
      await sleep(200 * (attempt + 1), undefined, { signal: o.signal }).catch(() => o.signal?.throwIfAborted());
    }
  }
}

/** One attempt: continue `<file>.partial` (or start it), verify, rename into place. */
async function download(o: ResolvedPullOptions, entry: Entry, final: string, totals: Totals) {
  const partial = `${final}.partial`;
  const url = fileUrl(o, entry.path);
  const want = expectedBytes(entry);
  let offset = (await stat(partial).catch(() => undefined))?.size ?? 0;
  if (want !== undefined && offset > want) offset = 0;
  let hash = createHash('sha256');
  if (offset > 0) await hashFile(partial, hash);

  const idle = idleTimer(o);
  try {
    if (offset > 0 && offset === want) {
      // Complete but never renamed (the process died between the last byte and the rename).
      const sha256 = hash.digest('hex');
      verify(entry, offset, sha256);
      await rename(partial, final);
      totals.received += offset;
      return { bytes: offset, sha256, resumed: true };
    }
    const get = (from: number) => request(o, url, {
      headers: { ...headersFor(o, url), ...(from > 0 && { range: `bytes=${from}-` }) },
    }, async (res) => res, { idle, path: entry.path });
    let res = await get(offset);
    if (offset > 0 && !(res.status === 206 && rangeStart(res) === offset)) {
      if (res.status !== 200) { // 416, or not the range asked for: start over
        await res.body?.cancel();
        res = await get(0);
      }
      offset = 0; // (a 200 is the whole file: the server ignored Range)
      hash = createHash('sha256');
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw statusError(o, res.status, url, entry.path, res.headers.get('x-error-code'));
    }
    const total = want ?? totalOf(res, offset);
    o.emit({ type: 'file-start', path: entry.path, bytes: total, offset });
    totals.received += offset;
    const received = await streamTo(o, res, partial, offset, hash, idle, url, entry.path, (n, chunk) => {
      totals.received += chunk;
      if (total !== undefined && n > total) throw mismatch(entry.path, 'size', `${total} bytes`, `more than ${total} bytes`, 'hub');
      o.emit({ type: 'file-progress', path: entry.path, received: n, bytes: total, totalReceived: totals.received, totalBytes: totals.bytes });
    });
    if (total !== undefined && received < total) {
      throw new ClipEdgeError('NETWORK', `download of ${entry.path} from ${url} ended after ${received} of ${total} bytes; pull again to resume`,
        { details: { resumable: true, url, file: entry.path } });
    }
    const sha256 = hash.digest('hex');
    verify(entry, received, sha256);
    await rename(partial, final);
    return { bytes: received, sha256, resumed: offset > 0 };
  } catch (e) {
    if (e instanceof ClipEdgeError && e.code === 'INTEGRITY_MISMATCH') await rm(partial, { force: true });
    throw e;
  } finally {
    idle.clear();
  }
}

/** Appends the body to `partial`, hashing as it goes; a broken connection is a resumable NETWORK error. */
async function streamTo(
  o: ResolvedPullOptions, res: Response, partial: string, offset: number, hash: Hash, idle: IdleTimer,
  url: string, path: string, onChunk: (received: number, chunk: number) => void,
): Promise<number> {
  if (!res.body) return offset;
  const reader = res.body.getReader();
  const fh = await open(partial, offset > 0 ? 'a' : 'w');
  let received = offset;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        o.signal?.throwIfAborted();
        const why = idle.timedOut ? `no data for ${o.idleTimeoutMs / 1000}s` : `connection lost (${causeOf(e)})`;
        throw new ClipEdgeError('NETWORK', `download of ${path} from ${url} stopped after ${received} bytes: ${why}; pull again to resume`,
          { cause: e, details: { resumable: true, url, file: path } });
      }
      if (chunk.done) return received;
      idle.touch();
      received += chunk.value.byteLength;
      onChunk(received, chunk.value.byteLength);
      hash.update(chunk.value);
      await fh.write(chunk.value);
    }
  } finally {
    await reader.cancel().catch(() => {});
    await fh.close();
  }
}

function verify(entry: Entry, bytes: number, sha256: string): void {
  for (const c of entry.claims) {
    if (c.bytes !== undefined && c.bytes !== bytes) throw mismatch(entry.path, 'size', `${c.bytes} bytes`, `${bytes} bytes`, c.by);
    if (c.sha256 !== undefined && c.sha256 !== sha256) throw mismatch(entry.path, 'sha256', c.sha256, sha256, c.by);
  }
}

const mismatch = (path: string, what: 'size' | 'sha256', expected: string, actual: string, by: Claim['by']) =>
  new ClipEdgeError('INTEGRITY_MISMATCH',
    `${path}: ${what} mismatch, expected ${expected} (from ${by}), got ${actual}; the download was deleted`,
    { details: { file: path, what, expected, actual, by } });

// ---------------------------------------------------------------- HTTP

const fileUrl = (o: ResolvedPullOptions, path: string): string =>
  `${o.baseUrl}/${o.repo}/resolve/${encodeURIComponent(o.revision)}/${path.split('/').map(encodeURIComponent).join('/')}`;

/** The token only goes to the hub itself, never to the CDN it redirects to (fetch drops it cross-origin too). */
function headersFor(o: ResolvedPullOptions, url: string): Record<string, string> {
  const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'clip-edge' };
  if (o.token && new URL(url).origin === new URL(o.baseUrl).origin) headers.authorization = `Bearer ${o.token}`;
  return headers;
}

/** A 404 that huggingface.co marks as a missing repo or revision (not a missing file). */
const isRepoLevel404 = (res: Response): boolean =>
  res.status === 404 && /^(RepoNotFound|RevisionNotFound)$/.test(res.headers.get('x-error-code') ?? '');

/**
 * One request under the idle timeout. `read` sees every response and returns a value, or
 * `undefined` to have the status turned into a ClipEdgeError. Transport failures become NETWORK.
 */
async function request<T>(
  o: ResolvedPullOptions, url: string, init: RequestInit, read: (res: Response) => Promise<T | undefined>,
  { idle, path }: { idle?: IdleTimer; path?: string } = {},
): Promise<T> {
  const timer = idle ?? idleTimer(o);
  try {
    let res: Response;
    try {
      res = await o.fetch(url, { ...init, signal: timer.signal });
    } catch (e) {
      o.signal?.throwIfAborted();
      const why = timer.timedOut ? `no response for ${o.idleTimeoutMs / 1000}s` : causeOf(e);
      throw new ClipEdgeError('NETWORK', `could not reach ${url}: ${why}`, { cause: e, details: { url } });
    }
    const value = await read(res);
    if (value !== undefined) return value;
    await res.body?.cancel().catch(() => {});
    throw statusError(o, res.status, url, path, res.headers.get('x-error-code'));
  } finally {
    if (!idle) timer.clear();
  }
}

async function readText(o: ResolvedPullOptions, res: Response, url: string): Promise<string | undefined> {
  if (!res.ok) return undefined;
  try {
    return await res.text();
  } catch (e) {
    o.signal?.throwIfAborted();
    throw new ClipEdgeError('NETWORK', `reading ${url} failed: ${causeOf(e)}`, { cause: e, details: { url } });
  }
}

/** HTTP status → error code, in one place. Messages name the URL, never the token. */
function statusError(o: ResolvedPullOptions, status: number, url: string, path?: string, errorCode?: string | null): ClipEdgeError {
  const where = `${o.repo}@${o.revision}`;
  const details = { status, url, repo: o.repo, revision: o.revision, ...(path && { file: path }) };
  if (status === 401 || status === 403) {
    const hint = o.token ? 'the token in use (HF_TOKEN) has no access to it' : 'set HF_TOKEN to a token with access to it';
    return new ClipEdgeError('UNAUTHORIZED', `HTTP ${status} from ${url}: ${where} is private, gated or does not exist; ${hint}`, { details });
  }
  if (status === 404) {
    const what = errorCode === 'RepoNotFound' ? `repo ${o.repo} not found`
      : errorCode === 'RevisionNotFound' ? `revision ${o.revision} of ${o.repo} not found`
      : path ? `${path} not found in ${where}` : `${where} not found`;
    return new ClipEdgeError('MODEL_NOT_FOUND', `${what} on ${o.baseUrl} (HTTP 404 from ${url})`, { details });
  }
  return new ClipEdgeError('NETWORK', `HTTP ${status} from ${url}`, { details });
}

interface IdleTimer {
  signal: AbortSignal;
  touch(): void;
  clear(): void;
  readonly timedOut: boolean;
}

/** Aborts when nothing arrives for `idleTimeoutMs` (a whole-download timeout would kill big files). */
function idleTimer(o: ResolvedPullOptions): IdleTimer {
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort(new ClipEdgeError('NETWORK', 'idle timeout'));
  }, o.idleTimeoutMs);
  return {
    signal: o.signal ? AbortSignal.any([o.signal, ctl.signal]) : ctl.signal,
    touch: () => void timer.refresh(),
    clear: () => clearTimeout(timer),
    get timedOut() {
      return timedOut;
    },
  };
}

// ---------------------------------------------------------------- small helpers

const isResumable = (e: unknown): boolean =>
  e instanceof ClipEdgeError && e.code === 'NETWORK' && e.details?.resumable === true;

function expectedBytes(e: Entry): number | undefined {
  return e.claims.find((c) => c.bytes !== undefined)?.bytes;
}

function asSize(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** An ETag is a sha256 only when it is 64 hex digits (huggingface.co's non-LFS ETags are git sha1s). */
function sha256Of(etag: string | null): string | undefined {
  const v = etag?.replace(/^W\//, '').replaceAll('"', '').toLowerCase();
  return v && SHA256.test(v) ? v : undefined;
}

function rangeStart(res: Response): number | undefined {
  const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : undefined;
}

function totalOf(res: Response, offset: number): number | undefined {
  if (res.status === 206) return asSize(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1]);
  const length = res.headers.get('content-encoding') ? undefined : asSize(res.headers.get('content-length'));
  return length === undefined ? undefined : length + offset;
}

function causeOf(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown; errors?: { code?: unknown }[] } })?.cause;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  if (typeof code === 'string') return code;
  if (typeof cause?.message === 'string') return cause.message;
  return e instanceof Error ? e.message : String(e);
}

function hashFile(path: string, hash: Hash): Promise<string> {
  return new Promise((ok, fail) => {
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', fail)
      .on('end', () => ok(hash.copy().digest('hex')));
  });
}
