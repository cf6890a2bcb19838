import { readExifOrientation } from './exif.ts';
import { ByteReader } from './bytes.ts';
import { corrupt, unsupported } from './errors.ts';
import type { ExifOrientation, ImageHeader } from './types.ts';

export interface WebpHeader extends ImageHeader {
  readonly format: 'webp';
  readonly lossless: boolean;
  readonly animated: boolean;
}

const FLAG_ANIMATION = 0x02;

/**
 * The canvas size from the first chunk (VP8 frame header, VP8L header or VP8X canvas) and,
 * for VP8X files, the EXIF orientation from the EXIF chunk, which PIL applies in exif_transpose.
 */
export function readWebpHeader(bytes: Uint8Array): WebpHeader {
  const r = new ByteReader(bytes, 'WebP');
  const riffEnd = Math.min(bytes.length, 8 + r.u32le(4, 'RIFF header'));
  const fourcc = r.ascii(12, 4, 'first chunk');
  const p = 20; // first chunk's payload
  let width: number;
  let height: number;
  let lossless = false;
  let animated = false;
  let orientation: ExifOrientation = 1;

  if (fourcc === 'VP8 ') {
    r.need(p, 10, 'VP8 frame header');
    if ((bytes[p]! & 1) !== 0) throw corrupt('WebP', 'the VP8 frame is not a key frame');
    if (bytes[p + 3] !== 0x9d || bytes[p + 4] !== 0x01 || bytes[p + 5] !== 0x2a) throw corrupt('WebP', 'bad VP8 start code');
    width = (bytes[p + 6]! | (bytes[p + 7]! << 8)) & 0x3fff;
    height = (bytes[p + 8]! | (bytes[p + 9]! << 8)) & 0x3fff;
  } else if (fourcc === 'VP8L') {
    if (r.u8(p, 'VP8L header') !== 0x2f) throw corrupt('WebP', 'bad VP8L signature');
    const bits = r.u32le(p + 1, 'VP8L header');
    width = (bits & 0x3fff) + 1;
    height = ((bits >>> 14) & 0x3fff) + 1;
    lossless = true;
  } else if (fourcc === 'VP8X') {
    const flags = r.u8(p, 'VP8X header');
    width = r.u24le(p + 4, 'VP8X header') + 1;
    height = r.u24le(p + 7, 'VP8X header') + 1;
    animated = (flags & FLAG_ANIMATION) !== 0;
    // Later chunks: EXIF for the orientation, VP8L to know the coding.
    let exifSeen = false;
    let o = 12 + 8 + r.u32le(16, 'VP8X chunk');
    o += o & 1;
    while (o + 8 <= riffEnd) {
      const type = r.ascii(o, 4, 'chunk');
      const size = r.u32le(o + 4, 'chunk');
      if (o + 8 + size > riffEnd) break; // truncated: the decoder reports it
      if (type === 'EXIF' && !exifSeen) {
        exifSeen = true; // libwebp's demuxer, which PIL uses, returns the first
        orientation = readExifOrientation(bytes.subarray(o + 8, o + 8 + size));
      }
      else if (type === 'VP8L') lossless = true;
      o += 8 + size + (size & 1);
    }
  } else {
    throw unsupported(`WebP with a '${fourcc.replace(/[^\x20-\x7e]/g, '?')}' first chunk is not supported`);
  }
  if (width === 0 || height === 0) throw corrupt('WebP', `header says the image is ${width}×${height} pixels`);
  return { format: 'webp', width, height, orientation, lossless, animated };
}
