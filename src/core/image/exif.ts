import type { ExifOrientation } from './types.ts';

const ORIENTATION_TAG = 0x0112;

/**
 * The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block, or 1 when absent or
 * unreadable. Accepts the block with or without the `Exif\0\0` prefix (JPEG APP1 has it; PNG eXIf
 * and WebP EXIF normally do not), as PIL's `Exif.load` does. Malformed EXIF never fails the
 * image: it only loses its orientation.
 */
export function readExifOrientation(block: Uint8Array): ExifOrientation {
  let t = block;
  if (t.length >= 6 && t[0] === 0x45 && t[1] === 0x78 && t[2] === 0x69 && t[3] === 0x66 && t[4] === 0 && t[5] === 0) {
    t = t.subarray(6);
  }
  if (t.length < 8) return 1;
  const little = t[0] === 0x49 && t[1] === 0x49 && t[2] === 42 && t[3] === 0;
  const big = t[0] === 0x4d && t[1] === 0x4d && t[2] === 0 && t[3] === 42;
  if (!little && !big) return 1;
  const u16 = (o: number): number => (little ? t[o]! | (t[o + 1]! << 8) : (t[o]! << 8) | t[o + 1]!);
  const u32 = (o: number): number =>
    (little
      ? t[o]! | (t[o + 1]! << 8) | (t[o + 2]! << 16) | (t[o + 3]! << 24)
      : (t[o]! << 24) | (t[o + 1]! << 16) | (t[o + 2]! << 8) | t[o + 3]!) >>> 0;

  const ifd = u32(4);
  if (ifd + 2 > t.length) return 1;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > t.length) return 1;
    if (u16(e) !== ORIENTATION_TAG) continue;
    const type = u16(e + 2);
    // SHORT is what the standard says; LONG and BYTE occur in the wild and PIL reads them too.
    const value = type === 3 ? u16(e + 8) : type === 4 ? u32(e + 8) : type === 1 ? t[e + 8]! : 0;
    return value >= 1 && value <= 8 ? (value as ExifOrientation) : 1;
  }
  return 1;
}
