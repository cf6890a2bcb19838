import { ClipEdgeError } from '../errors.ts';
import { type PixelLayout, orientedLayout, resizeBicubicFrom } from './resample.ts';
import type { RgbImage } from './types.ts';

/** CLIP's image preprocessing parameters (Hugging Face preprocessor_config.json names in brackets). */
export interface ClipPreprocessConfig {
  /** The shortest side is resized to this [size.shortest_edge]. */
  readonly shortestEdge: number;
  /** [crop_size.height] */
  readonly cropHeight: number;
  /** [crop_size.width] */
  readonly cropWidth: number;
  /** Per-channel mean, RGB, on the 0..1 scale [image_mean]. */
  readonly mean: readonly [number, number, number];
  /** Per-channel standard deviation, RGB [image_std]. */
  readonly std: readonly [number, number, number];
}

/** openai/CLIP's `_transform(224)` and Hugging Face's CLIPImageProcessor defaults. */
export const CLIP_PREPROCESS: ClipPreprocessConfig = Object.freeze({
  shortestEdge: 224,
  cropHeight: 224,
  cropWidth: 224,
  mean: Object.freeze([0.48145466, 0.4578275, 0.40821073] as const),
  std: Object.freeze([0.26862954, 0.26130258, 0.27577711] as const),
});

/** Resized sides beyond this are refused (PIL keeps box coordinates in C floats: exact to 2^24). */
const MAX_RESIZED_SIDE = 1 << 24;

/**
 * torchvision's `_compute_resized_output_size` for an int size (also Hugging Face's
 * `get_resize_output_image_size` with default_to_square=False): the shortest side becomes
 * `shortestEdge`, the other `int(shortestEdge * long / short)`, truncated.
 */
export function resizedSize(width: number, height: number, shortestEdge: number): { width: number; height: number } {
  const portrait = width <= height;
  const short = portrait ? width : height;
  const long = portrait ? height : width;
  const newLong = Math.trunc((shortestEdge * long) / short);
  return portrait ? { width: shortestEdge, height: newLong } : { width: newLong, height: shortestEdge };
}

/**
 * The resized size, or IMAGE_TOO_LARGE when the aspect ratio is too extreme for PIL's resize
 * (a side over 2^24): checked from the header, before a 1×40,000,000 image is decoded.
 */
export function assertResizable(width: number, height: number, config: ClipPreprocessConfig): { width: number; height: number } {
  const size = resizedSize(width, height, config.shortestEdge);
  if (size.width > MAX_RESIZED_SIDE || size.height > MAX_RESIZED_SIDE) {
    throw new ClipEdgeError(
      'IMAGE_TOO_LARGE',
      `Image is ${width}×${height}: its aspect ratio is too extreme (resizing gives ${size.width}×${size.height}, over ${MAX_RESIZED_SIDE} pixels a side)`,
      { details: { width, height } },
    );
  }
  return size;
}

/** Python's round(): halves go to the even neighbour. Only called on non-negative halves. */
const roundHalfEven = (v: number): number => {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/**
 * torchvision's `center_crop` geometry: the crop's top-left corner in the image's coordinates
 * (negative when torchvision pads: it pads (crop - side) // 2 before and the rest after, with 0),
 * then top = int(round((h - crop_h) / 2.0)), left likewise, on the padded size.
 */
export function centerCropOrigin(width: number, height: number, cropWidth: number, cropHeight: number): { left: number; top: number } {
  const padLeft = cropWidth > width ? Math.floor((cropWidth - width) / 2) : 0;
  const padTop = cropHeight > height ? Math.floor((cropHeight - height) / 2) : 0;
  const paddedW = Math.max(width, cropWidth);
  const paddedH = Math.max(height, cropHeight);
  return {
    left: roundHalfEven((paddedW - cropWidth) / 2) - padLeft,
    top: roundHalfEven((paddedH - cropHeight) / 2) - padTop,
  };
}

function checkConfig(c: ClipPreprocessConfig): void {
  for (const [k, v] of Object.entries({ shortestEdge: c.shortestEdge, cropHeight: c.cropHeight, cropWidth: c.cropWidth })) {
    if (!Number.isInteger(v) || v < 1) throw new ClipEdgeError('BAD_INPUT', `preprocess ${k} must be a positive integer, got ${v}`);
  }
  if (c.mean.length !== 3 || c.std.length !== 3 || c.std.some((s) => !(s > 0)) || c.mean.some((m) => !Number.isFinite(m))) {
    throw new ClipEdgeError('BAD_INPUT', 'preprocess mean must be 3 finite numbers and std 3 positive numbers');
  }
}

/**
 * Resize (shortest side, PIL bicubic) then center crop, as 8-bit RGB: pixel for pixel
 * `center_crop(img.resize(size, Image.BICUBIC), crop)` of torchvision on a PIL RGB image.
 * Only the cropped window of the resized image is computed.
 */
export function resizeAndCenterCrop(img: RgbImage, config: ClipPreprocessConfig): RgbImage {
  if (img.width < 1 || img.height < 1 || img.data.length !== img.width * img.height * 3) {
    throw new ClipEdgeError('BAD_INPUT', `RgbImage must hold width × height × 3 bytes (${img.width}×${img.height}, ${img.data.length} bytes)`);
  }
  return cropFrom(img.data, img.width, img.height, { base: 0, dx: 1, dy: img.width }, config);
}

/**
 * {@link resizeAndCenterCrop} of a stored image seen through an EXIF orientation, without the
 * rotated copy: equal, pixel for pixel, to `resizeAndCenterCrop(applyOrientation(img, orientation))`.
 * `img.data` is only read (it may be a view of a codec's wasm memory).
 */
export function resizeAndCenterCropOriented(img: RgbImage, orientation: number, config: ClipPreprocessConfig): RgbImage {
  if (img.width < 1 || img.height < 1 || img.data.length < img.width * img.height * 3) {
    throw new ClipEdgeError('BAD_INPUT', `RgbImage must hold width × height × 3 bytes (${img.width}×${img.height}, ${img.data.length} bytes)`);
  }
  const swap = orientation >= 5 && orientation <= 8;
  return cropFrom(img.data, swap ? img.height : img.width, swap ? img.width : img.height, orientedLayout(img.width, img.height, orientation), config);
}

function cropFrom(src: Uint8Array, width: number, height: number, layout: PixelLayout, config: ClipPreprocessConfig): RgbImage {
  checkConfig(config);
  const { cropWidth: cw, cropHeight: ch } = config;
  const size = assertResizable(width, height, config);
  const { left, top } = centerCropOrigin(size.width, size.height, cw, ch);
  // The part of the crop that lies on the image; the rest is torchvision's zero padding.
  const x0 = Math.max(0, left);
  const y0 = Math.max(0, top);
  const x1 = Math.min(size.width, left + cw);
  const y1 = Math.min(size.height, top + ch);
  const inner = resizeBicubicFrom(src, width, height, layout, size.width, size.height, { left: x0, top: y0, width: x1 - x0, height: y1 - y0 });
  if (inner.width === cw && inner.height === ch) return inner;
  const out = new Uint8Array(cw * ch * 3);
  const rowBytes = inner.width * 3;
  for (let y = 0; y < inner.height; y++) {
    out.set(inner.data.subarray(y * rowBytes, (y + 1) * rowBytes), ((y0 - top + y) * cw + (x0 - left)) * 3);
  }
  return { width: cw, height: ch, data: out };
}

/**
 * Per channel, value → (value / 255 - mean) / std in float32 steps, as torchvision's ToTensor
 * (`.div(255)`) and Normalize (`.sub_(mean).div_(std)`) compute it; a 256-entry table each.
 */
function normalizationTables(mean: readonly number[], std: readonly number[]): Float32Array[] {
  const f = Math.fround;
  return [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    const m = f(mean[c]!);
    const s = f(std[c]!);
    for (let v = 0; v < 256; v++) t[v] = f(f(f(v / 255) - m) / s);
    return t;
  });
}

/** Writes an RGB image as normalised planar CHW float32 into `out` at `offset`. */
function writeChw(img: RgbImage, tables: Float32Array[], out: Float32Array, offset: number): void {
  const n = img.width * img.height;
  const [tr, tg, tb] = tables as [Float32Array, Float32Array, Float32Array];
  const d = img.data;
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    out[offset + i] = tr[d[p]!]!;
    out[offset + n + i] = tg[d[p + 1]!]!;
    out[offset + 2 * n + i] = tb[d[p + 2]!]!;
  }
}

/**
 * CLIP's preprocessing of a decoded RGB image: resize + center crop (exactly PIL/torchvision),
 * /255, (x - mean) / std, as a float32 [3, cropHeight, cropWidth] tensor (length 3·H·W).
 * The image is RGB before resizing, as in Hugging Face's CLIPImageProcessor; openai/CLIP's
 * `_transform` converts after the crop, which differs only for palette / alpha / grey inputs
 * (PIL resizes palette images with NEAREST and RGBA premultiplied).
 */
export function clipPreprocess(img: RgbImage, config: ClipPreprocessConfig = CLIP_PREPROCESS): Float32Array {
  const crop = resizeAndCenterCrop(img, config);
  const out = new Float32Array(3 * crop.width * crop.height);
  writeChw(crop, normalizationTables(config.mean, config.std), out, 0);
  return out;
}

/**
 * An already resized and cropped image (`cropWidth` × `cropHeight`, e.g. from
 * `ImageDecoder.decodeForClip`) as CLIP's normalised float32 [3, H, W] tensor.
 */
export function clipNormalize(crop: RgbImage, config: ClipPreprocessConfig = CLIP_PREPROCESS): Float32Array {
  checkConfig(config);
  if (crop.width !== config.cropWidth || crop.height !== config.cropHeight || crop.data.length !== crop.width * crop.height * 3) {
    throw new ClipEdgeError('BAD_INPUT', `clipNormalize needs a ${config.cropWidth}×${config.cropHeight} RGB crop, got ${crop.width}×${crop.height}`);
  }
  const out = new Float32Array(3 * crop.width * crop.height);
  writeChw(crop, normalizationTables(config.mean, config.std), out, 0);
  return out;
}

/** Several images stacked into one float32 [N, 3, cropHeight, cropWidth] tensor. */
export function clipPreprocessBatch(
  images: readonly RgbImage[],
  config: ClipPreprocessConfig = CLIP_PREPROCESS,
): { data: Float32Array; dims: [number, number, number, number] } {
  if (images.length === 0) throw new ClipEdgeError('BAD_INPUT', 'clipPreprocessBatch needs at least one image');
  const plane = config.cropHeight * config.cropWidth;
  const data = new Float32Array(images.length * 3 * plane);
  const tables = normalizationTables(config.mean, config.std);
  images.forEach((img, i) => writeChw(resizeAndCenterCrop(img, config), tables, data, i * 3 * plane));
  return { data, dims: [images.length, 3, config.cropHeight, config.cropWidth] };
}
