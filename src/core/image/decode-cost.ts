import { ClipEdgeError } from '../errors.ts';
import type { FormatHeader } from './header.ts';
import { readFormatHeader } from './header.ts';
import { assertJpegComplete, type JpegHeader } from './jpeg-header.ts';
import { type JpegScale, jpegTurboDecodeBytes, scaledJpegSize } from './jpeg-turbo.ts';
import type { ClipPreprocessConfig } from './preprocess.ts';
import { streamingCropBytes } from './resample-stream.ts';
import { maxPngChunks, PNG_BASE_CHUNKS, type PngHeader } from './png-header.ts';

/*
 * What a decode may cost, known before any pixel is decoded: the header checks that bound a
 * decode's work by the bytes sent, and the memory estimates the decode budget is reserved with.
 */

const MiB = 1024 * 1024;

/** Default {@link ImageDecoderOptions.maxJpegScans}. Encoders write 1 (baseline) to ~12 (progressive). */
export const DEFAULT_MAX_JPEG_SCANS = 100;
/** Default {@link ImageDecoderOptions.maxPixelsPerByte}. */
export const DEFAULT_MAX_PIXELS_PER_BYTE = 1024;
/** Images up to this many pixels are not held to {@link ImageDecoderOptions.maxPixelsPerByte} (their cost is small anyway). */
export const PIXELS_PER_BYTE_FLOOR = 4_000_000;

/**
 * Estimated peak bytes of decoding an image exactly (no scaling): the codec's wasm memory and the
 * JS copies alive at once. `full` adds the upright full-size RGB that `decode()` returns; without
 * it only the 224-px crop is kept (decodeForClip).
 */
export function estimateDecodeBytes(header: FormatHeader, fileBytes: number, o: { jpegTurbo: boolean; full: boolean }): number {
  const px = header.width * header.height;
  const rotated = header.orientation !== 1 ? 3 * px : 0;
  const fullCopies = o.full ? 3 * px + rotated : 0;
  switch (header.format) {
    case 'jpeg':
      if (o.jpegTurbo) return jpegTurboDecodeBytes(header, fileBytes, 1) + fullCopies;
      // mozjpeg: its wasm heap (measured ~5.2 B/pixel at 24 MP besides the coefficients: RGBA plus
      // libjpeg's buffers), the RGBA's JS copy, the RGB image, the upright copy.
      return fileBytes + header.coefficientBytes + MiB + 5.5 * px + 4 * px + 3 * px + rotated;
    case 'webp':
      // libwebp's wasm heap (measured at 24 MP: ~5.9 B/pixel lossy, ~7.7 lossless), the RGBA copy, RGB, upright.
      return fileBytes + MiB + (header.lossless ? 8 : 6) * px + 4 * px + 3 * px + rotated;
    case 'png':
      return fileBytes + 2 * pngRawBytes(header) + 3 * px + rotated;
  }
}

/** Peak bytes of a JPEG streamed by libjpeg-turbo at 1/`denom` into the resize + crop for `config`. */
export const jpegForClipBytes = (header: JpegHeader, denom: JpegScale, config: ClipPreprocessConfig): number =>
  jpegTurboDecodeBytes(header, 0, denom) + streamingCropBytes(scaledJpegSize(header.width, header.height, denom).width, header.orientation, config);

const PNG_CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;
/** Inflated scanlines (filter byte per row): held once inflated and once decoded. */
const pngRawBytes = (h: PngHeader): number => (Math.ceil((h.width * PNG_CHANNELS[h.colorType] * h.depth) / 8) + 1) * h.height;

export const mb = (b: number) => `${(b / MiB).toFixed(1)} MB`;

export interface HeaderLimits {
  readonly maxPixels: number;
  readonly maxPixelsPerByte: number;
  readonly maxJpegScans: number;
}

/**
 * The image's header, after every check that bounds a decode's cost by the bytes sent: the pixel
 * limit, pixels per byte, a PNG's chunk count and a JPEG's scan count (IMAGE_TOO_LARGE or
 * UNSUPPORTED_IMAGE). Linear in the input, nothing decoded.
 */
export function headerWithin(bytes: Uint8Array, limits: HeaderLimits): FormatHeader {
  const header = readFormatHeader(bytes);
  const { width, height } = header;
  const pixels = width * height;
  const { maxPixels, maxPixelsPerByte, maxJpegScans } = limits;
  if (pixels > maxPixels) {
    throw new ClipEdgeError(
      'IMAGE_TOO_LARGE',
      `Image is ${width}×${height} (${pixels.toLocaleString('en-US')} pixels), over the limit of ${maxPixels.toLocaleString('en-US')} pixels`,
      { details: { width, height, pixels, maxPixels } },
    );
  }
  if (pixels > PIXELS_PER_BYTE_FLOOR && pixels > maxPixelsPerByte * bytes.length) {
    throw new ClipEdgeError(
      'IMAGE_TOO_LARGE',
      `Image claims ${width}×${height} (${pixels.toLocaleString('en-US')} pixels) in ${bytes.length.toLocaleString('en-US')} bytes: ` +
        `over ${maxPixelsPerByte.toLocaleString('en-US')} pixels per byte sent, which no photo needs; refused before decoding`,
      { details: { width, height, pixels, fileBytes: bytes.length, maxPixelsPerByte } },
    );
  }
  if (header.format === 'png') {
    const maxChunks = maxPngChunks(bytes.length);
    if (header.chunks > maxChunks) {
      throw new ClipEdgeError(
        'UNSUPPORTED_IMAGE',
        `PNG is split into more than ${maxChunks.toLocaleString('en-US')} chunks, the most a ${bytes.length.toLocaleString('en-US')}-byte PNG may have ` +
          `(${PNG_BASE_CHUNKS} plus one per KiB); re-save it with any image tool`,
        { details: { maxChunks, fileBytes: bytes.length } },
      );
    }
  }
  if (header.format === 'jpeg') {
    const scans = assertJpegComplete(bytes, header.scanOffset);
    if (scans > maxJpegScans) {
      throw new ClipEdgeError(
        'UNSUPPORTED_IMAGE',
        `JPEG has ${scans.toLocaleString('en-US')} scans, over the limit of ${maxJpegScans} (each scan is another pass over the whole image; encoders write 1 to ~12); re-save it with any image tool`,
        { details: { scans, maxJpegScans } },
      );
    }
  }
  return header;
}

/** IMAGE_TOO_LARGE for an image whose decode would not fit the budget, with the size that would. */
export function tooLargeToDecode(header: FormatHeader, need: number, fileBytes: number, full: boolean, decodeBudgetBytes: number, why = ''): ClipEdgeError {
  const px = header.width * header.height;
  // Bytes grow linearly in pixels: scale down to what fits (rounded down to 0.1 MP).
  const fits = Math.floor(((px * decodeBudgetBytes) / need) / 100_000) * 100_000;
  return new ClipEdgeError(
    'IMAGE_TOO_LARGE',
    `Decoding this ${header.width}×${header.height} ${describe(header)} needs ~${mb(need)}${why}, over this server's decode budget of ${mb(decodeBudgetBytes)}; ` +
      `send a smaller image (a ${header.format.toUpperCase()} of ~${(fits / 1e6).toFixed(1)} MP fits; CLIP sees ${full ? 'it' : '224 px'} anyway)`,
    { details: { width: header.width, height: header.height, estimatedBytes: Math.round(need), decodeBudgetBytes, fileBytes } },
  );
}

const describe = (h: FormatHeader): string =>
  h.format === 'jpeg' ? `${h.progressive ? 'progressive ' : ''}JPEG` : h.format === 'png' ? `${h.depth}-bit PNG` : 'WebP';

