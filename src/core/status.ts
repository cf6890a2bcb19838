import type { Backend } from './backend.ts';
import type { ModelInfo } from './model/info.ts';
import type { TextEmbedder } from './text-embedder.ts';
import type { VisionTower } from './remote-vision.ts';
import type { ClipEdgeStatus } from './types.ts';

/** What `/v1/models` reports: the folder's variants and which ones this instance runs. */
export function clipEdgeStatus(info: ModelInfo, backend: Backend, vision: VisionTower, text?: TextEmbedder): ClipEdgeStatus {
  const variants: ClipEdgeStatus['variants'] = {};
  for (const [p, towers] of Object.entries(info.variants)) {
    variants[p] = Object.fromEntries(
      Object.entries(towers ?? {}).map(([tw, f]) => [tw, { file: f.file, ...(f.bytes !== undefined ? { bytes: f.bytes } : {}) }]),
    );
  }
  return {
    id: info.id,
    backend: backend.name,
    embedDim: info.embedDim,
    contextLength: info.contextLength,
    imageSize: { height: info.preprocess.cropHeight, width: info.preprocess.cropWidth },
    logitScale: info.logitScale,
    variants,
    active: {
      vision: { variant: vision.precision, loaded: vision.loaded, ...(vision.inPlace ? { inPlace: true as const } : {}), ...(vision.remote ? { parts: vision.remote.parts } : {}) },
      ...(text ? { text: { variant: text.precision, loaded: text.loaded, ...(text.runner?.inPlace ? { inPlace: true as const } : {}), ...(text.remote ? { remote: true as const } : {}) } } : {}),
    },
    ...(info.license ? { license: info.license } : {}),
    ...(info.description ? { description: info.description } : {}),
  };
}
