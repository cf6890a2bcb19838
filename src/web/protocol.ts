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

/** One photo for the search tab's index: its bytes, file name and a small JPEG data URL made by the page. */
export interface PhotoFile {
  name: string;
  image: ArrayBuffer;
  thumb?: string;
}

/** A photo in the search tab's index (id: the sha256 of its bytes). */
export interface Photo {
  id: string;
  name: string;
  thumb?: string;
}

/** The search tab's requests: add photos, search them by text or by one of them, list, clear. */
export type PhotosRequest =
  | { op: 'add'; files: PhotoFile[] }
  | { op: 'search-text'; text: string; topK: number }
  | { op: 'search-photo'; photoId: string; topK: number }
  | { op: 'list' }
  | { op: 'clear' };

export interface PhotosMessage {
  type: 'photos';
  id: number;
  request: PhotosRequest;
}

export type ToWorker = InitMessage | ClassifyMessage | PhotosMessage;

/** A file the index could not take, with the core's error code. */
export interface PhotoFailure {
  name: string;
  code: string;
  message: string;
}

export interface PhotoMatch extends Photo {
  score: number;
}

export type PhotosReply =
  | { op: 'add'; added: Photo[]; failed: PhotoFailure[]; count: number; ms: number }
  | { op: 'search-text' | 'search-photo'; matches: PhotoMatch[]; count: number; ms: number }
  | { op: 'list'; photos: Photo[] }
  | { op: 'clear'; deleted: number };

export interface ReadyInfo {
  model: string;
  backend: string;
  vision: string;
  text?: string;
  /** Whether the model has a text tower (loaded on first use: custom labels, text search). */
  hasText: boolean;
  threads: number;
  crossOriginIsolated: boolean;
  labelSets: string[];
  loadMs: number;
}

export type FromWorker =
  | { type: 'progress'; path: string; loaded: number; total: number; cached: boolean }
  | { type: 'ready'; info: ReadyInfo }
  /**
   * `decoderBytes`: the most WebAssembly memory the image decoders held for this photo (bytes): a few
   * MB at any photo size, since JPEG and lossy WebP are decoded row by row into CLIP's crop.
   */
  | { type: 'result'; id: number; result: ClassifyResult; ms: number; decoderBytes: number }
  | { type: 'photos'; id: number; reply: PhotosReply }
  | { type: 'error'; id?: number; code: string; message: string };
