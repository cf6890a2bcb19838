// Node, Deno and Bun: a model folder on disk (see ../adapter.ts for the contract and its files).
import path from 'node:path';
import type { ClipEdgeOptions } from '../../core/clip.ts';
import { DEFAULT_LIMITS } from '../../core/limits.ts';
import type { RuntimeAdapter } from '../adapter.ts';
import { nodeImageCodecs } from './codecs.ts';
import { createDecodePool, defaultDecodeThreads } from './decode-pool.ts';
import { readImagePath } from './image-path.ts';
import { modelLabelSets } from './label-sets.ts';
import { fsModelSource } from './model-source.ts';
import { threadedNodeBackends } from './inference-thread.ts';
import { defaultNodeBackends } from './ort.ts';
import { DEFAULT_MODEL_DIR } from './paths.ts';
import { modelPromptCache } from './prompt-cache.ts';
import { type FsIndexOptions, openNodeIndex } from './search-index.ts';

/**
 * Default decode budget on Node, Deno and Bun: 1 GiB for the image decodes at work at once. The
 * largest allowed image (40 MP, progressive, through mozjpeg) needs ~0.6 GB, so it always fits;
 * sixteen of them at once wait their turn instead of taking 10 GB.
 */
export const DEFAULT_NODE_DECODE_BUDGET_BYTES = 1024 * 1024 * 1024;

/** Where things are on Node, Deno and Bun. */
export interface FsPlace {
  /** Model folder. @defaultValue the bundled models/tiny-clip */
  model?: string;
  /** onnxruntime threads. @defaultValue 1 */
  threads?: number;
  /** Most classes in one stored label set. @defaultValue the core's limit */
  maxLabels?: number;
  /** Largest image decoded, in pixels (sizes the decode threads' refusals). @defaultValue the core's limit */
  maxPixels?: number;
  /** Decode memory and scaling, on top of the 1 GiB default. */
  imageDecode?: ClipEdgeOptions['imageDecode'];
  /** Threads that decode images off the event loop. @defaultValue max(1, min(4, cores - 1)) */
  decodeThreads?: number;
  /** Run onnxruntime and its sessions in a worker thread, off the event loop. @defaultValue true */
  inferenceThread?: boolean;
  /** Nice steps below the event loop for the decode and inference threads (Linux). @defaultValue 0 */
  threadNice?: number;
  /** The search index: a LanceDB folder (`{ db }`), or any driver (`{ open }`). @defaultValue none */
  search?: FsIndexOptions;
}

const dirOf = (place: FsPlace) => path.resolve(place.model ?? DEFAULT_MODEL_DIR);

/** The decode threads (Node, Deno and Bun alike: all three run node:worker_threads; test/runtime/deno-bun.test.ts). */
function decodePoolOf(place: FsPlace): { executor?: ReturnType<typeof createDecodePool> } {
  const n = place.decodeThreads ?? defaultDecodeThreads();
  if (n === 0) return {};
  return { executor: createDecodePool({ threads: n, maxPixels: place.maxPixels ?? DEFAULT_LIMITS.maxPixels, threadNice: place.threadNice }) };
}

export const fsAdapter: RuntimeAdapter<FsPlace> = {
  name: 'node',
  modelSource: (place) => fsModelSource(dirOf(place)),
  backends: (place) => (place.inferenceThread === false ? defaultNodeBackends({ threads: place.threads }) : threadedNodeBackends({ threads: place.threads, threadNice: place.threadNice })),
  imageCodecs: () => nodeImageCodecs(),
  promptCache: (place) => modelPromptCache(dirOf(place)),
  labelSets: (place) => modelLabelSets(dirOf(place), place.maxLabels),
  defaults: (place) => ({
    imageDecode: { budgetBytes: DEFAULT_NODE_DECODE_BUDGET_BYTES, ...decodePoolOf(place), ...place.imageDecode },
  }),
  imageInputs: () => ({ readPath: readImagePath }),
  index: (place) => (place.search ? (clip) => openNodeIndex(clip, place.search!) : undefined),
};
