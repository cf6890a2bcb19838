import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ClipEdgeError } from '../core/errors.ts';
import { SAFE_RELATIVE_PATH } from '../core/model/manifest.ts';
import { isPrecision, type Precision, PRECISIONS, type Tower, TOWERS } from '../core/precision.ts';



/** `pull`'s options, results and progress events, resolved once (env defaults), and the hub's file-name rules. */

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

export const DEFAULT_BASE_URL = 'https://huggingface.co';
export const REPO_SEGMENT = /^[A-Za-z0-9][\w.-]{0,95}$/;
export const REVISION = /^[A-Za-z0-9][\w.\-/]{0,254}$/;
export const SAFE_PATH = SAFE_RELATIVE_PATH;
export const SHA256 = /^[0-9a-f]{64}$/;

// What a CLIP model folder needs, and nothing else (no pytorch/flax/safetensors weights).
export const CONFIG_FILE = /^[A-Za-z0-9][\w.-]*\.json$|^merges\.txt$/;
export const TOWER_FILE = /^onnx\/(vision|text)_model((?:_[A-Za-z0-9]+)*)\.onnx$/;
export const COMBINED_FILE = /^onnx\/model((?:_[A-Za-z0-9]+)*)\.onnx$/;
export const DATA_FILE = /^(onnx\/[\w.-]+\.onnx)(?:_data(?:_\d+)?|\.data)$/;
export const PROMPT_FILE = /^prompts\//;
export const FIXED_CONFIGS = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];
// transformers.js names its 8-bit files `_quantized`; probed even while the precision table lacks it.
export const EXTRA_SUFFIXES = ['_quantized'];

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

export function parseBaseUrl(raw: string): string {
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

export const expandHome = (p: string): string => resolve(p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p);

/** Local folder a pull of `repo@revision` writes to. */
export const modelDirOf = (o: Pick<ResolvedPullOptions, 'cacheDir' | 'repo' | 'revision'>): string =>
  join(o.cacheDir, ...o.repo.split('/'), o.revision.replaceAll('/', '--'));

/** Downloads (or completes) the model folder of `options.repo` and returns where it is. */
