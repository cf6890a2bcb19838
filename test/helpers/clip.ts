import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClipEdge } from '../../src/core/clip.ts';
import { createNodeClipEdge, DEFAULT_MODEL_DIR } from '../../src/runtime/fs/create.ts';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MODEL_DIR = DEFAULT_MODEL_DIR;
export const EVAL_DIR = path.join(REPO_ROOT, 'test/fixtures/tiny-clip-eval');

let shared: Promise<ClipEdge> | undefined;
/** One WASM-backed kit per test worker (the portable backend CI always has). */
export const sharedClip = (): Promise<ClipEdge> => (shared ??= createNodeClipEdge({ backend: 'wasm' }));

export interface EvalItem {
  file: string;
  label: string;
  split: 'seen' | 'held_out';
  width: number;
  height: number;
}
export interface EvalSet {
  labels: string[];
  templates: string[];
  images: EvalItem[];
  chance_top1: number;
}
