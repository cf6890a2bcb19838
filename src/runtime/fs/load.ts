// One call from "which model" to a ready kit, as transformers.js' pipeline() is: nothing (the
// bundled model), a folder, or a Hugging Face id pulled into the cache on first use.
import { existsSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readImagePath } from './image-path.ts';
import { envBool } from '../../http/env.ts';
import { ClipEdgeError } from '../../core/errors.ts';
import { type ClipEdgeKit, withImageInputs } from '../../core/kit.ts';
import type { Precision } from '../../core/precision.ts';
import { createNodeClipEdge, type NodeClipEdgeOptions } from './create.ts';
import { modelDirOf, pullModel, type PullEvent, type PullOptions, resolvePullOptions } from '../../hub/pull.ts';

export interface LoadClipEdgeOptions extends Omit<NodeClipEdgeOptions, 'model'> {
  /** Progress of a hub download (plan, per-file progress, done); `createPullProgress().onProgress` draws bars. */
  onProgress?: (event: PullEvent) => void;
  /** Hub options for a model id: revision, baseUrl (`HF_ENDPOINT`), token (`HF_TOKEN`), cacheDir (`CLIP_EDGE_CACHE`), … */
  hub?: Omit<PullOptions, 'repo' | 'onProgress' | 'variants'>;
  /**
   * Precisions pulled for a model id. @defaultValue the requested vision/text variants, else
   * `['fp32', 'int8']` (what onnxruntime-node and WASM pick); files a repo lacks are skipped.
   */
  variants?: readonly Precision[];
  /** Never contact the hub: use the cached copy of a model id, or fail. @defaultValue env `HF_HUB_OFFLINE` is `1` */
  offline?: boolean;
  /** Largest encoded image `classify`/`embedImage` read. @defaultValue 64 MiB */
  maxImageBytes?: number;
}

/** Written beside a pulled folder once every file arrived: later loads use the cache without the network. */
const PULLED_MARKER = '.clip-edge-pulled.json';

const looksLikePath = (s: string) => s.startsWith('.') || s.startsWith('/') || s.startsWith('~') || s.includes('\\') || /^[A-Za-z]:/.test(s);

/** Where a model id lives in the cache, pulling it first when it is not complete there. */
async function hubFolder(repo: string, o: LoadClipEdgeOptions): Promise<string> {
  const wanted = o.variants ?? [
    ...new Set([o.visionVariant, o.textVariant].filter((v): v is Precision => !!v && v !== 'auto')),
  ];
  const variants: readonly Precision[] = wanted.length ? wanted : ['fp32', 'int8'];
  const dir = modelDirOf(resolvePullOptions({ ...o.hub, repo }));
  const marker = path.join(dir, PULLED_MARKER);
  const pulled = existsSync(marker) ? (JSON.parse(await readFile(marker, 'utf8')) as { variants: Precision[] }).variants : [];
  if (variants.every((v) => pulled.includes(v))) return dir;
  const offline = o.offline ?? envBool(process.env, 'HF_HUB_OFFLINE') ?? false;
  if (offline) {
    throw new ClipEdgeError('MODEL_NOT_FOUND', `${repo} is not in the cache (${dir}) with variants ${variants.join(', ')}, and offline is set`);
  }
  const r = await pullModel({ ...o.hub, repo, variants, onProgress: o.onProgress });
  await writeFile(marker, `${JSON.stringify({ repo, revision: r.revision, variants: [...new Set([...pulled, ...variants])], pulledAt: new Date().toISOString() })}\n`);
  return r.dir;
}

/**
 * A ready classifier and embedder from a model reference:
 * - nothing: the bundled demo model (`models/tiny-clip`);
 * - a folder (absolute, `./relative`, or any existing path) in the Hugging Face / Optimum layout;
 * - a Hugging Face id (`org/name`), pulled into `~/.cache/clip-edge/models` on first use
 *   (verified, resumable; `onProgress` reports it) and read from there afterwards.
 *
 * `classify` and `embedImage` take bytes, a Blob/File, a ReadableStream, a Response or a file path.
 */
export async function loadClipEdge(model?: string | URL, options: LoadClipEdgeOptions = {}): Promise<ClipEdgeKit> {
  const { onProgress: _p, hub: _h, variants: _v, offline: _o, maxImageBytes, ...rest } = options;
  let dir: string | undefined;
  if (model instanceof URL) dir = fileURLToPath(model);
  else if (model !== undefined) {
    if (typeof model !== 'string' || !model) throw new ClipEdgeError('BAD_INPUT', 'model must be a folder path, a Hugging Face id or undefined');
    const expanded = model.startsWith('~/') ? path.join(process.env.HOME ?? '~', model.slice(2)) : model;
    if (looksLikePath(model) || existsSync(expanded)) {
      if (!existsSync(expanded) || !statSync(expanded).isDirectory()) throw new ClipEdgeError('MODEL_NOT_FOUND', `model folder ${model} does not exist`);
      dir = expanded;
    } else dir = await hubFolder(model, options);
  }
  const kit = await createNodeClipEdge({ ...rest, ...(dir ? { model: dir } : {}) });
  return withImageInputs(kit.core, { maxBytes: maxImageBytes, readPath: readImagePath });
}
