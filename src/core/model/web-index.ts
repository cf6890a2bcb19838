/**
 * The file list of a model folder as served to browsers (`/models/<id>/files.json`): every file the
 * page may fetch, with its size and sha256. The browser caches each file under its sha256, so a
 * new model version is fetched again and an old one is never mixed in; the server serves only
 * the files listed here, so no path outside the folder can be asked for.
 */
export interface ModelWebIndex {
  format: 'clip-edge/model-web-index@1';
  /** The model's id (`manifest.json` `id`). */
  id: string;
  /** Folder-relative path (`onnx/vision_model_int8.onnx`) → size and sha256. */
  files: Record<string, { bytes: number; sha256: string }>;
  /** Label sets with a precomputed prompt cache (`prompts/<name>.json`), the model's own first. */
  labelSets: string[];
}

export const MODEL_WEB_INDEX = 'files.json';
