import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Backend } from '../../core/backend.ts';
import { type ClipEdge, type ClipEdgeOptions, createClipEdge } from '../../core/clip.ts';
import { DEFAULT_LIMITS } from '../../core/limits.ts';
import { chainLabelSets, type LabelSetProvider } from '../../core/label-sets.ts';
import { defaultNodeBackends } from './ort.ts';
import { nodeImageCodecs } from './codecs.ts';
import { createDecodePool, defaultDecodeThreads } from './decode-pool.ts';
import { fsModelSource } from './model-source.ts';
import { dirLabelSets } from './label-sets.ts';
import { fsPromptCacheStore } from './prompt-cache.ts';
import { modelPromptCacheDir } from './user-cache.ts';
import { type PromptCacheStore, tieredPromptCacheStore } from '../../core/prompt-cache/store.ts';

/**
 * The package's root folder (where models/ and third_party/ live): the nearest folder above this
 * file with a package.json — the clone's root for src/, the installed package's for dist/src/.
 */
export const PACKAGE_ROOT = packageRoot(path.dirname(fileURLToPath(import.meta.url)));

function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`clip-edge: no package.json above ${from}`);
  }
}

/** The bundled default model: models/tiny-clip. */
export const DEFAULT_MODEL_DIR = path.join(PACKAGE_ROOT, 'models', 'tiny-clip');

/** openai/CLIP's class lists and templates (CIFAR-10, ImageNet, Food-101, …), shipped as built-in label sets. */
export const BUILTIN_LABEL_SETS_DIR = path.join(PACKAGE_ROOT, 'third_party', 'zero-shot-prompts');

/**
 * Default decode budget on Node, Deno and Bun: 1 GiB for the image decodes at work at once. The
 * largest allowed image (40 MP, progressive, through mozjpeg) needs ~0.6 GB, so it always fits;
 * sixteen of them at once wait their turn instead of taking 10 GB.
 */
export const DEFAULT_NODE_DECODE_BUDGET_BYTES = 1024 * 1024 * 1024;

export interface NodeClipEdgeOptions
  extends Omit<ClipEdgeOptions, 'source' | 'backends' | 'imageCodecs' | 'labelSets'> {
  /** Model folder. @defaultValue the bundled models/tiny-clip */
  model?: string;
  /** onnxruntime threads. @defaultValue 1 */
  threads?: number;
  /** Replace the default backends (onnxruntime-node when installed, then WASM). */
  backends?: readonly Backend[];
  /** More label sets, looked up before the model's own and the built-in ones. */
  labelSets?: LabelSetProvider;
  /**
   * The shared prompt cache. @defaultValue the caches shipped in `<model>/prompts/` (read-only),
   * behind a writable per-user folder for inline labels: `$CLIP_EDGE_PROMPT_CACHE/<model folder name>-<hash of its path>`,
   * default `~/.cache/clip-edge/prompts/…` (`$HOME`; with no home folder, the shipped caches alone).
   */
  promptCache?: PromptCacheStore;
  /**
   * Image decodes: `budgetBytes` is the memory the decodes at work at once may hold (each reserves
   * its estimate and waits for room). @defaultValue `{ budgetBytes: DEFAULT_NODE_DECODE_BUDGET_BYTES }` (1 GiB)
   */
  imageDecode?: ClipEdgeOptions['imageDecode'];
  /**
   * Threads that decode images off the event loop (Node; a decode past its request's deadline is
   * stopped); 0 decodes on the calling thread (always so on Deno and Bun).
   * @defaultValue max(1, min(4, cores - 1)) on Node, 0 on Deno and Bun
   */
  decodeThreads?: number;
}

/**
 * clip-edge for Node, Deno and Bun: a model folder on disk, onnxruntime-node or WASM, label sets
 * from the model's `label-sets/` folder and openai/CLIP's built-in lists.
 */
export async function createNodeClipEdge(options: NodeClipEdgeOptions = {}): Promise<ClipEdge> {
  const { model, threads, backends, labelSets, promptCache, imageDecode, decodeThreads, ...rest } = options;
  const dir = path.resolve(model ?? DEFAULT_MODEL_DIR);
  const maxLabels = rest.limits?.maxLabelSetClasses;
  const providers = [
    ...(labelSets ? [labelSets] : []),
    dirLabelSets(path.join(dir, 'label-sets'), { maxLabels }),
    dirLabelSets(BUILTIN_LABEL_SETS_DIR, { allowDuplicates: true, maxLabels }),
  ];
  return createClipEdge({
    ...rest,
    imageDecode: { budgetBytes: DEFAULT_NODE_DECODE_BUDGET_BYTES, ...decodePoolOf(decodeThreads, rest.limits?.maxPixels), ...imageDecode },
    source: fsModelSource(dir),
    backends: backends ?? defaultNodeBackends({ threads }),
    imageCodecs: nodeImageCodecs(),
    labelSets: chainLabelSets(...providers),
    promptCache: promptCache ?? defaultPromptCache(dir),
  });
}

/** Node's decode threads (none by default on Deno and Bun: their worker_threads ran the pool in a manual check, but no test covers them there; `decodeThreads` opts in). */
function decodePoolOf(threads: number | undefined, maxPixels: number | undefined): { executor?: ReturnType<typeof createDecodePool> } {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  const n = threads ?? (g.Deno === undefined && g.Bun === undefined ? defaultDecodeThreads() : 0);
  if (n === 0) return {};
  return { executor: createDecodePool({ threads: n, maxPixels: maxPixels ?? DEFAULT_LIMITS.maxPixels }) };
}

/**
 * The caches shipped in `<model>/prompts/` (read-only) behind the per-user folder, or the shipped
 * ones alone when there is no home folder to write to (inline labels are then kept in memory only).
 */
function defaultPromptCache(dir: string): PromptCacheStore {
  const shipped = fsPromptCacheStore(path.join(dir, 'prompts'));
  const userDir = modelPromptCacheDir(dir);
  if (!userDir) return { ...shipped, name: `${shipped.name} (read-only)`, put: async () => {}, delete: async () => {} };
  return tieredPromptCacheStore(fsPromptCacheStore(userDir), shipped);
}
