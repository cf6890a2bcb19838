import type { Backend } from '../../core/backend.ts';
import type { ClipEdgeOptions } from '../../core/clip.ts';
import type { ClipEdgeKit } from '../../core/kit.ts';
import type { LabelSetProvider } from '../../core/label-sets.ts';
import type { PromptCacheStore } from '../../core/prompt-cache/store.ts';
import { createFromAdapter } from '../adapter.ts';
import { fsAdapter } from './adapter.ts';

export { BUILTIN_LABEL_SETS_DIR, DEFAULT_MODEL_DIR, PACKAGE_ROOT } from './paths.ts';
export { DEFAULT_NODE_DECODE_BUDGET_BYTES } from './adapter.ts';

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
   * Threads that decode images off the event loop (a decode past its request's deadline is
   * stopped); 0 decodes on the calling thread. Node, Deno and Bun alike.
   * @defaultValue max(1, min(4, cores - 1))
   */
  decodeThreads?: number;
  /**
   * Run onnxruntime (native or WASM) and its sessions in one worker thread, so that inference
   * (0.2–0.5 s of CPU per ViT-B/32 image in WASM, seconds for ViT-L/14) never holds the event loop:
   * `/healthz` and cheap requests answer meanwhile, and a request past its deadline gets its 503 at
   * the deadline. One thread, one copy of each session. `false`: inference on the calling thread.
   * Ignored when `backends` is given (make them with `threadedNodeBackends()` for the same).
   * @defaultValue true
   */
  inferenceThread?: boolean;
  /**
   * Run the decode and inference threads this many nice steps (0–19) below the event loop, so that
   * `/healthz`, routing and admission get a core first when the threads keep every core busy
   * (bench/results/event-loop.md). Linux only (Node, Bun); ignored on Deno. The server reads it
   * from `CLIP_EDGE_THREAD_NICE`. Not applied to `backends` you give (pass it to `threadedNodeBackends()`).
   * @defaultValue 0
   */
  threadNice?: number;
}

/**
 * clip-edge for Node, Deno and Bun: a model folder on disk, onnxruntime-node or WASM, label sets
 * from the model's `label-sets/` folder and openai/CLIP's built-in lists. classify/embedImage
 * take bytes, a Blob/File, a stream or a file path; `.core` is the bytes-only kit the HTTP app uses.
 */
export async function createNodeClipEdge(options: NodeClipEdgeOptions = {}): Promise<ClipEdgeKit> {
  const { model, threads, backends, labelSets, imageDecode, decodeThreads, inferenceThread, threadNice, ...rest } = options;
  const place = { model, threads, maxLabels: rest.limits?.maxLabelSetClasses, maxPixels: rest.limits?.maxPixels, imageDecode, decodeThreads, inferenceThread, threadNice };
  return createFromAdapter(fsAdapter, place, { ...rest, backends, labelSets });
}
