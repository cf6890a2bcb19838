/** An 8-bit RGB image, pixels interleaved row by row (`data.length === width * height * 3`). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** The encoded formats the decoder reads, found by magic bytes (never by content type). */
export type ImageFormat = 'jpeg' | 'png' | 'webp';

export const SUPPORTED_IMAGE_FORMATS: readonly ImageFormat[] = Object.freeze(['jpeg', 'png', 'webp'] as const);

/** EXIF orientation (TIFF tag 0x0112); 1 is upright. */
export type ExifOrientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

/** What the header says, read without decoding any pixels. */
export interface ImageHeader {
  readonly format: ImageFormat;
  /** Stored size, before the EXIF orientation is applied. */
  readonly width: number;
  readonly height: number;
  readonly orientation: ExifOrientation;
}

/** Upright size: orientations 5–8 swap width and height. */
export const orientedSize = (h: ImageHeader): { width: number; height: number } =>
  h.orientation >= 5 ? { width: h.height, height: h.width } : { width: h.width, height: h.height };
