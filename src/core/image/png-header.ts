import { readExifOrientation } from './exif.ts';
import { ByteReader } from './bytes.ts';
import { corrupt, unsupported } from './errors.ts';
import type { ExifOrientation, ImageHeader } from './types.ts';

export interface PngHeader extends ImageHeader {
  readonly format: 'png';
  readonly colorType: 0 | 2 | 3 | 4 | 6;
  readonly depth: 1 | 2 | 4 | 8 | 16;
  readonly interlaced: boolean;
  /** The IDAT payloads in order (views into the input), for the inflate check. */
  readonly idat: readonly Uint8Array[];
  /** The PLTE payload, if any. */
  readonly plte: Uint8Array | null;
  /** Why the chunk list is incomplete (truncated file), or null when IEND was reached. */
  readonly incomplete: string | null;
  /**
   * Chunks walked (IHDR and IEND included), or {@link maxPngChunks} + 1 when the walk stopped there
   * (so that counting a million one-byte chunks costs no more than refusing them).
   */
  readonly chunks: number;
}

const SIGNATURE_LENGTH = 8;
const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Readonly<Record<number, readonly number[]>> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};
const MAX_DIMENSION = 0x7fffffff; // PNG spec: 2^31 - 1

export const pngChannels = (colorType: number): number => CHANNELS[colorType] ?? 0;

/** A chunk type's four ASCII bytes as the big-endian number the walk compares. */
const fourcc = (t: string): number => ((t.charCodeAt(0) << 24) | (t.charCodeAt(1) << 16) | (t.charCodeAt(2) << 8) | t.charCodeAt(3)) >>> 0;
const [IDAT, PLTE, EXIF, IEND] = ['IDAT', 'PLTE', 'eXIf', 'IEND'].map(fourcc) as [number, number, number, number];

/** A PNG may have this many chunks, plus one per KiB of file (libpng writes 8 KiB IDATs; one-byte chunks are an attack). */
export const PNG_BASE_CHUNKS = 1024;
/** Most chunks a PNG of `fileBytes` may have: its decoders' work grows with the count, whatever the chunks' size. */
export const maxPngChunks = (fileBytes: number): number => PNG_BASE_CHUNKS + Math.floor(fileBytes / 1024);

/**
 * IHDR, then a walk over the chunk list (lengths only, no CRC or inflate: the decoder does
 * those) for the IDAT payloads and an eXIf orientation. PIL reads eXIf wherever it is, even
 * after IDAT, and the last one wins.
 */
export function readPngHeader(bytes: Uint8Array): PngHeader {
  const r = new ByteReader(bytes, 'PNG');
  const ihdrLength = r.u32be(SIGNATURE_LENGTH, 'IHDR chunk');
  if (r.ascii(SIGNATURE_LENGTH + 4, 4, 'IHDR chunk') !== 'IHDR' || ihdrLength !== 13) {
    throw corrupt('PNG', 'the first chunk is not a 13-byte IHDR');
  }
  const h = SIGNATURE_LENGTH + 8;
  r.need(h, 13, 'IHDR chunk');
  const width = r.u32be(h, 'IHDR');
  const height = r.u32be(h + 4, 'IHDR');
  const depth = bytes[h + 8]!;
  const colorType = bytes[h + 9]!;
  const compression = bytes[h + 10]!;
  const filter = bytes[h + 11]!;
  const interlace = bytes[h + 12]!;
  if (width === 0 || height === 0) throw corrupt('PNG', `IHDR says the image is ${width}×${height} pixels`);
  if (width > MAX_DIMENSION || height > MAX_DIMENSION) throw corrupt('PNG', `IHDR size ${width}×${height} exceeds the PNG limit of 2^31-1`);
  const depths = DEPTHS[colorType];
  if (!depths) throw corrupt('PNG', `unknown colour type ${colorType}`);
  if (!depths.includes(depth)) throw corrupt('PNG', `bit depth ${depth} is not allowed with colour type ${colorType}`);
  if (compression !== 0 || filter !== 0) throw unsupported(`PNG compression method ${compression} / filter method ${filter} is not supported`);
  if (interlace > 1) throw corrupt('PNG', `unknown interlace method ${interlace}`);

  let orientation: ExifOrientation = 1;
  const idat: Uint8Array[] = [];
  let plte: Uint8Array | null = null;
  let incomplete: string | null = 'data ends before the IEND chunk (truncated file?)';
  let o = SIGNATURE_LENGTH;
  let chunks = 0;
  const maxChunks = maxPngChunks(bytes.length);
  // Chunk types compared as numbers: this walk runs on the event loop for every PNG, up to
  // maxChunks (9,807 for a 9 MB file), and a string per chunk was most of its time and garbage.
  while (o + 8 <= bytes.length) {
    if (++chunks > maxChunks) break;
    const length = r.u32be(o, 'chunk');
    const type = r.u32be(o + 4, 'chunk');
    if (o + 12 + length > bytes.length) {
      incomplete = `data ends inside the ${r.ascii(o + 4, 4, 'chunk').replace(/[^\x20-\x7e]/g, '?')} chunk (truncated file?)`;
      break;
    }
    if (type === IDAT) idat.push(bytes.subarray(o + 8, o + 8 + length));
    else if (type === PLTE) plte ??= bytes.subarray(o + 8, o + 8 + length);
    else if (type === EXIF) orientation = readExifOrientation(bytes.subarray(o + 8, o + 8 + length));
    else if (type === IEND) {
      incomplete = null;
      break;
    }
    o += 12 + length;
  }
  return {
    format: 'png',
    width,
    height,
    orientation,
    colorType: colorType as PngHeader['colorType'],
    depth: depth as PngHeader['depth'],
    interlaced: interlace === 1,
    idat,
    plte,
    incomplete,
    chunks,
  };
}
