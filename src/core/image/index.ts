export type { ExifOrientation, ImageFormat, ImageHeader, RgbImage } from './types.ts';
export { SUPPORTED_IMAGE_FORMATS, orientedSize } from './types.ts';
export type { ImageCodecWasm } from './wasm-codec.ts';
export {
  createImageDecoder,
  DEFAULT_MAX_PIXELS,
  estimateDecodeBytes,
  type ClipCrop,
  type DecodePath,
  type DeferredImageBytes,
  type ImageDecoder,
  type ImageDecoderOptions,
} from './decoder.ts';
export { sniffImageFormat } from './sniff.ts';
export { applyOrientation } from './orient.ts';
export {
  CLIP_PREPROCESS,
  centerCropOrigin,
  clipPreprocess,
  clipPreprocessBatch,
  clipNormalize,
  resizeAndCenterCropOriented,
  resizeAndCenterCrop,
  resizedSize,
  type ClipPreprocessConfig,
} from './preprocess.ts';
export { resizeBicubic } from './resample.ts';
export { toNpy } from './npy.ts';
