import { readExifOrientation } from './exif.ts';
import { ByteReader } from './bytes.ts';
import { corrupt, unsupported } from './errors.ts';
import type { ExifOrientation, ImageHeader } from './types.ts';

export interface JpegHeader extends ImageHeader {
  readonly format: 'jpeg';
  /** Colour components in the frame: 1 grey, 3 YCbCr/RGB (4, CMYK, is refused). */
  readonly components: number;
  readonly progressive: boolean;
  /**
   * Bytes of DCT coefficients libjpeg keeps for the whole image when the file has several scans
   * (progressive, or sequential with one scan per component), 0 otherwise: 2 bytes per
   * coefficient, whole blocks, per component at its own sampling. Scaled decoding needs them too.
   */
  readonly coefficientBytes: number;
  /** Offset of the first SOS marker: the entropy-coded data starts after its segment. */
  readonly scanOffset: number;
}

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const APP1 = 0xe1;
const isStandalone = (m: number): boolean => m === 0x01 || (m >= 0xd0 && m <= 0xd7);
// SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
const LOSSLESS_SOF = new Set([0xc3, 0xc7, 0xcb, 0xcf]);
const PROGRESSIVE_SOF = new Set([0xc2, 0xc6, 0xca, 0xce]);

/**
 * Walks the marker segments up to the first SOS for the frame size (SOFn) and the EXIF
 * orientation (from the first APP1 "Exif" segment: PIL keeps the first). Stray bytes between
 * segments are skipped, as PIL and libjpeg do.
 */
export function readJpegHeader(bytes: Uint8Array): JpegHeader {
  const r = new ByteReader(bytes, 'JPEG');
  let o = 2;
  let orientation: ExifOrientation = 1;
  let exifSeen = false;
  let frame: Frame | null = null;

  for (;;) {
    while (o < bytes.length && bytes[o] !== 0xff) o++;
    while (o < bytes.length && bytes[o] === 0xff) o++;
    if (o >= bytes.length) throw corrupt('JPEG', 'data ends before the image data (no SOS marker; truncated file?)');
    const marker = bytes[o]!;
    const at = o - 1;
    o++;
    if (marker === 0x00 || isStandalone(marker)) continue;
    if (marker === SOI || marker === EOI) throw corrupt('JPEG', `unexpected ${marker === SOI ? 'SOI' : 'EOI'} marker before the image data`);
    const length = r.u16be(o, 'marker segment length');
    if (length < 2) throw corrupt('JPEG', `marker 0x${marker.toString(16)} has an invalid length ${length}`);
    r.need(o, length, `marker 0x${marker.toString(16)} segment`);
    const seg = bytes.subarray(o + 2, o + length);

    if (marker === SOS) {
      if (!frame) throw corrupt('JPEG', 'image data starts before the frame header (no SOF marker)');
      // Fewer components in the first scan than in the frame: a multi-scan sequential file.
      return checkFrame(frame, orientation, at, seg.length > 0 && seg[0]! < frame.components);
    }
    if (isSof(marker) && !frame) {
      if (seg.length < 6) throw corrupt('JPEG', 'frame header is too short');
      frame = {
        precision: seg[0]!,
        height: (seg[1]! << 8) | seg[2]!,
        width: (seg[3]! << 8) | seg[4]!,
        components: seg[5]!,
        sof: marker,
        sampling: Array.from({ length: Math.min(seg[5]!, Math.floor((seg.length - 6) / 3)) }, (_, i) => ({
          h: seg[7 + i * 3]! >> 4,
          v: seg[7 + i * 3]! & 15,
        })),
      };
    } else if (marker === APP1 && !exifSeen && isExif(seg)) {
      exifSeen = true;
      orientation = readExifOrientation(seg);
    }
    o += length;
  }
}

const isExif = (s: Uint8Array): boolean => s.length >= 5 && s[0] === 0x45 && s[1] === 0x78 && s[2] === 0x69 && s[3] === 0x66 && s[4] === 0;

interface Frame {
  width: number;
  height: number;
  components: number;
  precision: number;
  sof: number;
  sampling: { h: number; v: number }[];
}

/** libjpeg's whole-image coefficient arrays: per component, blocks padded to its sampling factors. */
function coefficientBytesOf(f: Frame): number {
  const hmax = Math.max(1, ...f.sampling.map((s) => s.h));
  const vmax = Math.max(1, ...f.sampling.map((s) => s.v));
  let blocks = 0;
  for (const s of f.sampling) {
    const h = Math.max(1, s.h);
    const v = Math.max(1, s.v);
    const bw = Math.ceil(Math.ceil((f.width * h) / hmax) / 8);
    const bh = Math.ceil(Math.ceil((f.height * v) / vmax) / 8);
    blocks += Math.ceil(bw / h) * h * Math.ceil(bh / v) * v;
  }
  return blocks * 64 * 2;
}

function checkFrame(f: Frame, orientation: ExifOrientation, scanOffset: number, multiScan: boolean): JpegHeader {
  if (LOSSLESS_SOF.has(f.sof)) throw unsupported('Lossless JPEG (SOF3) is not supported; supported: baseline and progressive JPEG, PNG, WebP');
  if (f.precision !== 8) throw unsupported(`${f.precision}-bit JPEG is not supported; only 8-bit samples are`);
  if (f.components === 4) throw unsupported('CMYK/YCCK JPEG is not supported; convert the image to RGB');
  if (f.components !== 1 && f.components !== 3) throw unsupported(`JPEG with ${f.components} colour components is not supported`);
  if (f.width === 0) throw corrupt('JPEG', 'frame header says the image is 0 pixels wide');
  if (f.height === 0) throw unsupported('JPEG whose height is set by a DNL marker is not supported');
  return {
    format: 'jpeg',
    width: f.width,
    height: f.height,
    orientation,
    components: f.components,
    progressive: PROGRESSIVE_SOF.has(f.sof),
    coefficientBytes: PROGRESSIVE_SOF.has(f.sof) || multiScan ? coefficientBytesOf(f) : 0,
    scanOffset,
  };
}

/**
 * PIL refuses a JPEG whose data ends before its end: "image file is truncated". mozjpeg instead
 * pads the missing scan with grey and only warns, so the decoder checks first that the marker
 * structure reaches EOI: every segment length fits and some EOI follows the entropy data.
 * (PIL does accept a baseline file that lacks only the final EOI; we do not.)
 * Returns the number of scans (SOS markers): each one makes libjpeg pass over all the image's
 * coefficients again, so a file that repeats a scan thousands of times costs seconds of CPU per
 * few kilobytes (the decoder caps it, see ImageDecoderOptions.maxJpegScans).
 */
export function assertJpegComplete(bytes: Uint8Array, scanOffset: number): number {
  const n = bytes.length;
  let o = scanOffset;
  let scans = 0;
  for (;;) {
    // o points at 0xFF of a marker.
    let p = o + 1;
    while (p < n && bytes[p] === 0xff) p++;
    if (p >= n) break;
    const marker = bytes[p]!;
    if (marker === EOI) return scans;
    if (marker === SOS) scans++;
    if (marker === 0x00 || isStandalone(marker)) {
      o = nextMarker(bytes, p + 1);
    } else {
      if (p + 2 >= n) break;
      const length = (bytes[p + 1]! << 8) | bytes[p + 2]!;
      if (length < 2) throw corrupt('JPEG', `marker 0x${marker.toString(16)} has an invalid length ${length}`);
      if (p + 1 + length > n) break;
      o = nextMarker(bytes, p + 1 + length);
    }
    if (o < 0) break;
  }
  throw corrupt('JPEG', 'data ends before the end-of-image marker (truncated file?)');
}

/** Next 0xFF that starts a marker (not a stuffed 0xFF00 or a restart marker), or -1. */
function nextMarker(bytes: Uint8Array, from: number): number {
  let o = from;
  for (;;) {
    o = bytes.indexOf(0xff, o);
    if (o < 0 || o + 1 >= bytes.length) return -1;
    const m = bytes[o + 1]!;
    if (m === 0x00 || (m >= 0xd0 && m <= 0xd7)) {
      o += 2;
      continue;
    }
    return o;
  }
}
