import type { Backend } from '../../core/backend.ts';
import type { ClipEdgeOptions } from '../../core/clip.ts';
import type { ClipEdgeKit } from '../../core/kit.ts';
import type { LabelSetProvider } from '../../core/label-sets.ts';
import type { PromptCacheStore } from '../../core/prompt-cache/store.ts';
import { createFromAdapter } from '../adapter.ts';
import { browserAdapter } from './adapter.ts';
import type { BrowserBackendOptions } from './ort.ts';
import { type DownloadProgress, fetchModelSource } from './model-source.ts';

export interface BrowserClipEdgeOptions
  extends Omit<ClipEdgeOptions, 'source' | 'backends' | 'imageCodecs' | 'labelSets' | 'promptCache'>,
    Omit<BrowserBackendOptions, 'ortBaseUrl'> {
  /** URL of the model folder (serving `files.json` and the files it lists), e.g. `/models/tiny-clip/`. */
  modelUrl: string | URL;
  /** The model folder's source, when the caller made it (e.g. to fetch files ahead); `modelUrl` is then not used. */
  source?: ReturnType<typeof fetchModelSource>;
  /** Folder URL of onnxruntime-web's `dist/` files. */
  ortBaseUrl: string | URL;
  /**
   * Folder URL of the JPEG/WebP decoders' wasm: `libjpeg-turbo.wasm` and `libwebp.wasm` (this
   * package's streamed decoders, `clip-edge/dist/src/core/image/`) and `webp_dec.wasm` (lossless and
   * animated WebP, `@jsquash/webp/codec/dec/`); see CODEC_WASM_FILES. `clip-edge serve` serves them at `/codecs/`.
   */
  codecBaseUrl: string | URL;
  /** Replace the default backends (WebGPU when an adapter exists, then WASM). */
  backends?: readonly Backend[];
  /** More label sets, looked up before the model's. */
  labelSets?: LabelSetProvider;
  /**
   * Where inline labels' class embeddings are written back. @defaultValue Cache Storage
   * (`clip-edge-prompts`), in front of the model folder's shipped `prompts/`
   */
  promptCache?: PromptCacheStore;
  /** Download progress of model files and prompt caches. */
  onProgress?: (p: DownloadProgress) => void;
  /** Cache Storage cache of the model files. @defaultValue 'clip-edge-models' */
  cacheName?: string;
  /** A model file Cache Storage would not store (it is used anyway). @defaultValue a console warning */
  onCacheError?: (path: string, error: unknown) => void;
}

/**
 * clip-edge in a browser (best in a Web Worker): the model folder over fetch, cached in Cache
 * Storage; ORT-web on WebGPU or WASM; label sets and prompt caches served beside the model.
 * The same core as every server runtime: decoding, preprocessing, tokenizer, prompt cache.
 */
export async function createBrowserClipEdge(options: BrowserClipEdgeOptions): Promise<ClipEdgeKit> {
  const { modelUrl, source: given, ortBaseUrl, codecBaseUrl, backends, labelSets, promptCache, onProgress, cacheName, onCacheError, load, wasmBinary, threads, ...rest } =
    options;
  const source = given ?? fetchModelSource(modelUrl, { ...(onProgress ? { onProgress } : {}), ...(cacheName ? { cacheName } : {}), ...(onCacheError ? { onCacheError } : {}) });
  const ort = { ortBaseUrl, ...(load ? { load } : {}), ...(wasmBinary ? { wasmBinary } : {}), ...(threads ? { threads } : {}) };
  return createFromAdapter(browserAdapter, { source, ort, codecBaseUrl }, { ...rest, backends, labelSets, promptCache });
}
