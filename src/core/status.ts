import type { Backend } from './backend.ts';
import type { ModelInfo } from './model/info.ts';
import type { TextEmbedder } from './text-embedder.ts';
import type { VisionTower } from './remote-vision.ts';
import type { BackendState, ClipEdgeStatus } from './types.ts';

/** The backend's state as status and /healthz report it (Backend.down, Backend.restarting). */
export function backendState(backend: Backend): { backendState: BackendState; restartInMs?: number } {
  if (backend.down) return { backendState: 'down' };
  const restarting = backend.restarting;
  return restarting ? { backendState: 'restarting', restartInMs: Math.ceil(restarting.retryAfterMs) } : { backendState: 'ready' };
}

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
    ...backendState(backend),
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
