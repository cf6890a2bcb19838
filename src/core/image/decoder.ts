import { ClipEdgeError, isClipEdgeError } from '../errors.ts';
import { corrupt } from './errors.ts';
import { readFormatHeader } from './header.ts';
import { createJpegCodec, decodeJpeg } from './jpeg.ts';
import { applyOrientation } from './orient.ts';
import { decodePng } from './png.ts';
import type { ImageHeader, RgbImage } from './types.ts';
import type { ImageCodecWasm } from './wasm-codec.ts';
import { createWebpCodec, decodeWebp } from './webp.ts';

export type { ImageCodecWasm } from './wasm-codec.ts';

/** Default {@link ImageDecoderOptions.maxPixels}: 40 megapixels (a 12 MP photo is 12,000,000). */
export const DEFAULT_MAX_PIXELS = 40_000_000;

export interface ImageDecoderOptions {
  /**
   * Compiled codec wasm from the runtime adapter (JPEG and WebP; PNG is pure JS). A format
   * whose wasm is missing is refused with UNSUPPORTED_IMAGE.
   * @defaultValue `{}`
   */
  readonly wasm?: ImageCodecWasm;
  /**
   * Largest width × height accepted, checked from the header before any pixel is decoded.
   * @defaultValue 40_000_000
   */
  readonly maxPixels?: number;
}

export interface ImageDecoder {
  /** Format, stored size and EXIF orientation from the header alone (no decoding). */
  readHeader(bytes: Uint8Array | ArrayBuffer): ImageHeader;
  /**
   * Decodes to upright 8-bit RGB, pixel for pixel what PIL's `Image.open`, `exif_transpose`
   * and `convert("RGB")` give (see pngToRgb for the one deliberate difference). Fails only with
   * ClipEdgeError: BAD_INPUT (empty), UNSUPPORTED_IMAGE, IMAGE_TOO_LARGE or CORRUPT_IMAGE.
   */
  decode(bytes: Uint8Array | ArrayBuffer): Promise<RgbImage>;
}

interface ResolvedOptions {
  readonly wasm: ImageCodecWasm;
  readonly maxPixels: number;
}

export function resolveImageDecoderOptions(o: ImageDecoderOptions = {}): ResolvedOptions {
  const maxPixels = o.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isSafeInteger(maxPixels) || maxPixels < 1) {
    throw new ClipEdgeError('BAD_INPUT', `maxPixels must be a positive integer, got ${String(o.maxPixels)}`);
  }
  return { wasm: o.wasm ?? {}, maxPixels };
}

/**
 * An image decoder. Codec wasm is instantiated lazily, once, on the first image of its format,
 * so creating a decoder costs nothing and a PNG-only workload never loads mozjpeg.
 */
export function createImageDecoder(options?: ImageDecoderOptions): ImageDecoder {
  const { wasm, maxPixels } = resolveImageDecoderOptions(options);
  const jpeg = createJpegCodec(wasm);
  const webp = createWebpCodec(wasm);

  const checkedHeader = (bytes: Uint8Array) => {
    const header = readFormatHeader(bytes);
    const pixels = header.width * header.height;
    if (pixels > maxPixels) {
      throw new ClipEdgeError(
        'IMAGE_TOO_LARGE',
        `Image is ${header.width}×${header.height} (${pixels.toLocaleString('en-US')} pixels), over the limit of ${maxPixels.toLocaleString('en-US')} pixels`,
        { details: { width: header.width, height: header.height, pixels, maxPixels } },
      );
    }
    return header;
  };

  return {
    readHeader(input) {
      const h = checkedHeader(asBytes(input));
      return { format: h.format, width: h.width, height: h.height, orientation: h.orientation };
    },

    async decode(input) {
      const bytes = asBytes(input);
      const header = checkedHeader(bytes);
      let img: RgbImage;
      try {
        switch (header.format) {
          case 'jpeg':
            img = await decodeJpeg(jpeg, bytes, header);
            break;
          case 'png':
            img = await decodePng(bytes, header);
            break;
          case 'webp':
            img = await decodeWebp(webp, bytes, header);
            break;
        }
      } catch (e) {
        if (isClipEdgeError(e)) throw e;
        // Whatever a codec throws on bad data (RangeError, TypeError, ...) is still bad data.
        throw corrupt(header.format.toUpperCase(), e instanceof Error ? e.message : String(e), e);
      }
      return applyOrientation(img, header.orientation);
    },
  };
}

function asBytes(input: Uint8Array | ArrayBuffer): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) {
    const v = input as ArrayBufferView;
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }
  throw new ClipEdgeError('BAD_INPUT', 'Image bytes must be a Uint8Array or an ArrayBuffer');
}
