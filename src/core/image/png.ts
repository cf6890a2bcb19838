import { decode as decodePngFile } from 'fast-png';
import { corrupt } from './errors.ts';
import type { PngHeader } from './png-header.ts';
import { adam7Passes, inflateIdat, unfilter } from './png-inflate.ts';
import { pngToRgb } from './png-pixels.ts';
import type { RgbImage } from './types.ts';

/**
 * PNG through fast-png (pure JS) with CRCs checked, after the IDAT stream was inflated once by
 * the platform to bound its size and catch truncation. fast-png mis-reads interlaced images with
 * 1/2/4-bit samples (it assumes whole bytes per pixel), so that one case is de-interlaced here.
 */
export async function decodePng(bytes: Uint8Array, header: PngHeader): Promise<RgbImage> {
  if (header.incomplete) throw corrupt('PNG', header.incomplete);
  if (header.idat.length === 0) throw corrupt('PNG', 'no IDAT chunk (no image data)');
  if (header.colorType === 3 && !header.plte) throw corrupt('PNG', 'palette image without a PLTE chunk');
  const subByteInterlaced = header.interlaced && header.depth < 8;
  const scanlines = await inflateIdat(header, subByteInterlaced);

  if (subByteInterlaced) {
    checkCrcs(bytes);
    if (!scanlines) throw corrupt('PNG', `interlaced ${header.depth}-bit PNG needs DecompressionStream, which this runtime lacks`);
    const samples = deinterlaceSubByte(scanlines, header.width, header.height, header.depth);
    return pngToRgb({ ...header, data: samples, packed: false, palette: paletteOf(header.plte) });
  }

  let png: ReturnType<typeof decodePngFile>;
  try {
    png = decodePngFile(bytes, { checkCrc: true });
  } catch (e) {
    throw corrupt('PNG', e instanceof Error ? e.message : String(e), e);
  }
  if (png.width !== header.width || png.height !== header.height) {
    throw corrupt('PNG', `decoded ${png.width}×${png.height}, IHDR said ${header.width}×${header.height}`);
  }
  return pngToRgb({
    width: png.width,
    height: png.height,
    colorType: header.colorType,
    depth: header.depth,
    data: png.data,
    packed: true,
    palette: png.palette ?? paletteOf(header.plte),
  });
}

export function paletteOf(plte: Uint8Array | null): number[][] {
  const entries: number[][] = [];
  if (plte) for (let i = 0; i + 2 < plte.length; i += 3) entries.push([plte[i]!, plte[i + 1]!, plte[i + 2]!]);
  return entries;
}

/** Adam7 with 1/2/4-bit samples (one channel: grey or palette index) to one sample per byte. */
function deinterlaceSubByte(lines: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const mask = (1 << depth) - 1;
  let o = 0;
  for (const p of adam7Passes(width, height)) {
    const stride = Math.ceil((p.w * depth) / 8);
    let prev = new Uint8Array(stride);
    for (let y = 0; y < p.h; y++) {
      const filter = lines[o]!;
      const row = lines.slice(o + 1, o + 1 + stride);
      o += 1 + stride;
      unfilter(filter, row, prev, 1); // one byte per "pixel" for sub-byte depths, as the spec says
      const oy = p.y0 + y * p.dy;
      for (let x = 0; x < p.w; x++) {
        const bit = x * depth;
        out[oy * width + p.x0 + x * p.dx] = (row[bit >> 3]! >> (8 - depth - (bit & 7))) & mask;
      }
      prev = row;
    }
  }
  return out;
}

let crcTable: Int32Array | null = null;

function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 255]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** Every chunk's CRC up to IEND (the header walk already checked the lengths). */
export function checkCrcs(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let o = 8; o + 12 <= bytes.length; ) {
    const length = view.getUint32(o);
    const type = String.fromCharCode(...bytes.subarray(o + 4, o + 8));
    if (crc32(bytes.subarray(o + 4, o + 8 + length)) !== view.getUint32(o + 8 + length)) {
      throw corrupt('PNG', `CRC mismatch in the ${type} chunk`);
    }
    if (type === 'IEND') return;
    o += 12 + length;
  }
}
