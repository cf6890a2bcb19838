/** clip-edge's Web-standard core: the same on Workers, Node, Deno, Bun and browsers. */
export { createClipEdge, DEFAULT_LIMITS } from './core/clip.ts';
export type { ClipEdge, ClipEdgeOptions, ClipLimits, ClassifyRequest, ClassifyResult, ImageEmbedding, TextEmbeddings, ClipEdgeStatus, Timings } from './core/clip.ts';
export { withImageInputs, type ClipEdgeKit } from './core/kit.ts';
export { readImageInput, DEFAULT_MAX_IMAGE_BYTES, type ImageInput, type ImageSource, type ReadImageOptions } from './core/image/input.ts';
export { createClipApp, DEFAULT_MAX_BODY_BYTES, type ClipAppOptions } from './http/app.ts';
export { configFromEnv, type ServiceConfig } from './http/config.ts';
export { ClipEdgeError, isClipEdgeError, type ClipEdgeErrorCode } from './core/errors.ts';
export { STATUS_OF } from './http/errors.ts';
export { ortBackend, resolveBackend, type Backend, type OrtModule, type SessionLike } from './core/backend.ts';
export { memorySource, type ModelSource } from './core/model/source.ts';
export { readModelInfo, type ModelInfo, type PreprocessConfig } from './core/model/info.ts';
export { PRECISION_SUFFIX, PRECISIONS, onnxFileOf, type Precision, type Tower } from './core/precision.ts';
export { createClipTokenizer, type ClipTokenizer } from './core/tokenizer.ts';
export { makeLabelSet, parseLabelSet, staticLabelSets, chainLabelSets, expandPrompts, type LabelSet, type LabelSetProvider } from './core/label-sets.ts';
export { openApiDocument } from './http/openapi.ts';
export { cosine, softmax, topK, normalizeRows } from './core/zeroshot.ts';
