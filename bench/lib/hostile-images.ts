// Images built to cost far more to decode than their bytes suggest (issue 23's probes). Shared by
// the decoder's unit tests, the fault-and-recovery suite (test/e2e/recovery.test.ts, Node and
// workerd) and `npm run bench:load`. Each keeps the format's own rules (valid CRCs, marker
// structure), so only the decoder's cost checks can refuse them.
import { crc32, deflateSync } from 'node:zlib';

const PNG_SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

/** A PNG chunk: length, type, data, CRC-32 over type and data. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

function ihdr(width: number, height: number, depth: number, colorType: number): Buffer {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(width, 0);
  d.writeUInt32BE(height, 4);
  d.set([depth, colorType, 0, 0, 0], 8);
  return pngChunk('IHDR', d);
}

/**
 * A valid PNG of zeros (black, or transparent black), compressed as hard as zlib can: the most
 * pixels a PNG can carry per byte. `rowBytes` is the filtered scanline payload per row.
 */
export function blankPng(width: number, height: number, o: { depth?: 8 | 16; colorType?: 2 | 6 } = {}): Buffer {
  const depth = o.depth ?? 8;
  const colorType = o.colorType ?? 2;
  const rowBytes = (width * (colorType === 6 ? 4 : 3) * depth) / 8;
  const raw = Buffer.alloc((rowBytes + 1) * height);
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height, depth, colorType), pngChunk('IDAT', deflateSync(raw, { level: 9 })), pngChunk('IEND', new Uint8Array(0))]);
}

/** A valid 8-bit RGB PNG of noise (seeded), which deflate cannot shrink: ~3 bytes of file per pixel. */
export function noisyPng(width: number, height: number, seed = 1): Buffer {
  const row = 1 + width * 3;
  const raw = Buffer.alloc(row * height);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < raw.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    raw[i] = i % row === 0 ? 0 : x & 255;
  }
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height, 8, 2), pngChunk('IDAT', deflateSync(raw, { level: 1 })), pngChunk('IEND', new Uint8Array(0))]);
}

/** The same PNG with its image data re-cut into IDAT chunks of `chunkBytes` each (one byte: ~13× the file, ~1 chunk per byte of data). */
export function fragmentedPng(png: Uint8Array, chunkBytes = 1): Buffer {
  const chunks: Buffer[] = [];
  const idat: Buffer[] = [];
  const b = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  for (let o = 8; o + 12 <= b.length; ) {
    const length = b.readUInt32BE(o);
    const type = b.toString('latin1', o + 4, o + 8);
    const whole = b.subarray(o, o + 12 + length);
    if (type === 'IDAT') idat.push(b.subarray(o + 8, o + 8 + length));
    else if (type === 'IEND') {
      const data = Buffer.concat(idat);
      for (let i = 0; i < data.length; i += chunkBytes) chunks.push(pngChunk('IDAT', data.subarray(i, i + chunkBytes)));
      chunks.push(whole);
      break;
    } else chunks.push(whole);
    o += 12 + length;
  }
  return Buffer.concat([PNG_SIGNATURE, ...chunks]);
}

/**
 * A progressive JPEG whose last scan is repeated `extraScans` more times before EOI: libjpeg runs
 * every scan over all the image's coefficients (a warning, not an error), so the decode's work
 * grows by one pass per ~scan-size bytes.
 */
export function repeatedScanJpeg(progressive: Uint8Array, extraScans: number): Buffer {
  const b = Buffer.from(progressive.buffer, progressive.byteOffset, progressive.byteLength);
  let lastSos = -1;
  let eoi = -1;
  for (let o = 2; o < b.length - 1; ) {
    if (b[o] !== 0xff) {
      o++;
      continue;
    }
    const m = b[o + 1]!;
    if (m === 0xff || m === 0x00 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      o += m === 0xff ? 1 : 2;
      continue;
    }
    if (m === 0xd9) {
      eoi = o;
      break;
    }
    if (m === 0xda) lastSos = o;
    o += 2 + b.readUInt16BE(o + 2);
  }
  if (lastSos < 0 || eoi < 0) throw new Error('repeatedScanJpeg needs a JPEG with a scan and an EOI');
  const scan = b.subarray(lastSos, eoi);
  return Buffer.concat([b.subarray(0, eoi), ...Array<Buffer>(extraScans).fill(scan), b.subarray(eoi)]);
}

/**
 * A 38-byte lossless WebP header that claims `width` × `height` (libwebp reads the size from these
 * bytes; the bitstream after them is not a valid image). Refusals must come from the header.
 */
export function claimingWebp(width: number, height: number): Buffer {
  const vp8l = Buffer.alloc(18);
  vp8l[0] = 0x2f;
  vp8l.writeUInt32LE(((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14), 1);
  const body = Buffer.concat([Buffer.from('WEBP'), Buffer.from('VP8L'), Buffer.from([vp8l.length, 0, 0, 0]), vp8l]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

/** One of issue 23's probes at full size, as `npm run bench:hostile-images` and `bench:inference-thread` send it. */
export interface Probe {
  name: string;
  what: string;
  type: string;
  body: Buffer;
  copies: number;
}

/** The five probes (built with sharp: a 36 MP progressive JPEG, a 40 MP lossless WebP, …). */
export async function hostileProbes(): Promise<Probe[]> {
  const { default: sharp } = await import('sharp');
  process.stderr.write('building the probes (a 36 MP progressive JPEG, a 40 MP lossless WebP, …)\n');
  const flat36mp = await sharp({ create: { width: 6000, height: 6000, channels: 3, background: { r: 90, g: 140, b: 200 } } }).jpeg({ progressive: true, quality: 90 }).toBuffer();
  const webp = await sharp({ create: { width: 6324, height: 6324, channels: 3, background: { r: 255, g: 0, b: 0 } } }).webp({ lossless: true }).toBuffer();
  const scans = repeatedScanJpeg(flat36mp, 5000);
  const chunks = fragmentedPng(noisyPng(480, 480), 1);
  const png16 = blankPng(6324, 6324, { depth: 16, colorType: 6 });
  const tall = blankPng(1, 40_000_000);
  const kb = (b: Buffer) => `${(b.length / 1024).toFixed(0)} KB`;
  return [
    { name: 'scans', what: `6000×6000 progressive JPEG, last scan repeated 5,000 times (${kb(scans)})`, type: 'image/jpeg', body: scans, copies: 1 },
    { name: 'webp', what: `16 at once: lossless WebP of one colour, 6324×6324 (${webp.length} bytes each)`, type: 'image/webp', body: webp, copies: 16 },
    { name: 'chunks', what: `480×480 PNG cut into one-byte IDAT chunks (${kb(chunks)})`, type: 'image/png', body: chunks, copies: 1 },
    { name: 'png16', what: `blank 16-bit RGBA PNG, 6324×6324 (${kb(png16)})`, type: 'image/png', body: png16, copies: 1 },
    { name: 'tall', what: `1×40,000,000 PNG (${kb(tall)})`, type: 'image/png', body: tall, copies: 1 },
  ];
}
