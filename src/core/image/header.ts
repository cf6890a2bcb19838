import { ClipEdgeError } from '../errors.ts';
import { readJpegHeader, type JpegHeader } from './jpeg-header.ts';
import { readPngHeader, type PngHeader } from './png-header.ts';
import { describeUnknownFormat, sniffImageFormat } from './sniff.ts';
import { readWebpHeader, type WebpHeader } from './webp-header.ts';

export type FormatHeader = JpegHeader | PngHeader | WebpHeader;

const SUPPORTED = 'supported formats: JPEG, PNG, WebP';

/** Sniffs the format from magic bytes and reads its header; nothing is decoded. */
export function readFormatHeader(bytes: Uint8Array): FormatHeader {
  if (bytes.length === 0) throw new ClipEdgeError('BAD_INPUT', 'The image is empty (0 bytes)');
  switch (sniffImageFormat(bytes)) {
    case 'jpeg':
      return readJpegHeader(bytes);
    case 'png':
      return readPngHeader(bytes);
    case 'webp':
      return readWebpHeader(bytes);
    case null: {
      const known = describeUnknownFormat(bytes);
      throw new ClipEdgeError(
        'UNSUPPORTED_IMAGE',
        known ? `${known} images are not supported; ${SUPPORTED}` : `Unrecognised image data (${bytes.length} bytes); ${SUPPORTED}`,
        known ? { details: { detected: known } } : undefined,
      );
    }
  }
}
