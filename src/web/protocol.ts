/** Messages between the page (main thread) and its inference Web Worker. */
import type { ClassifyResult } from '../core/clip.ts';

export interface InitMessage {
  type: 'init';
  /** `auto` (WebGPU when an adapter exists, else WASM), `webgpu` or `wasm`. */
  backend: string;
  /** Vision variant, `auto` by default (fp16/fp32 on WebGPU, int8 on WASM). */
  variant: string;
  /** Absolute URLs of the model folder, ORT's files and the decoders' wasm. */
  modelUrl: string;
  ortBaseUrl: string;
  codecBaseUrl: string;
  /** Cache name of ORT's wasm (versioned). */
  runtimeCache: string;
}

export interface ClassifyMessage {
  type: 'classify';
  id: number;
  image: ArrayBuffer;
  labelSet?: string;
  labels?: string[];
  topK: number;
}

export type ToWorker = InitMessage | ClassifyMessage;

export interface ReadyInfo {
  model: string;
  backend: string;
  vision: string;
  text?: string;
  threads: number;
  crossOriginIsolated: boolean;
  labelSets: string[];
  loadMs: number;
}

export type FromWorker =
  | { type: 'progress'; path: string; loaded: number; total: number; cached: boolean }
  | { type: 'ready'; info: ReadyInfo }
  | { type: 'result'; id: number; result: ClassifyResult; ms: number }
  | { type: 'error'; id?: number; code: string; message: string };
