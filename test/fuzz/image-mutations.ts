import fc from 'fast-check';

/**
 * Mutations of valid JPEG / PNG / WebP files for fuzzing the decoders: bit flips, truncation,
 * extreme bytes, spliced regions, and format-aware edits — header fields (sizes, depths, colour
 * types, sampling factors, chunk and segment lengths) set to extremes. PNG chunks get their CRC
 * recomputed after an edit, so mutations reach inflate and the row filters instead of stopping
 * at the CRC check.
 */

/** One edit, described as data so that a failing input can be printed and replayed. */
export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'splice'; from: number; to: number; length: number }
  | { kind: 'field'; field: number; value: number; fixCrc: boolean };

/** A field of a format's structure: where it is and how wide. */
interface Field {
  at: number;
  width: 1 | 2 | 3 | 4;
  endian: 'be' | 'le';
  /** PNG: the chunk whose CRC covers it (offset of the chunk's type, and the data length). */
  crc?: { type: number; length: number };
  name: string;
}

const u32be = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const u16be = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;
const u32le = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

function pngFields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  for (let o = 8; o + 12 <= b.length; ) {
    const length = u32be(b, o);
    const type = String.fromCharCode(...b.subarray(o + 4, o + 8));
    const crc = { type: o + 4, length };
    out.push({ at: o, width: 4, endian: 'be', name: `${type}.length` });
    if (type === 'IHDR') {
      out.push({ at: o + 8, width: 4, endian: 'be', crc, name: 'IHDR.width' }, { at: o + 12, width: 4, endian: 'be', crc, name: 'IHDR.height' });
      for (const [i, n] of ['depth', 'colorType', 'compression', 'filter', 'interlace'].entries()) out.push({ at: o + 16 + i, width: 1, endian: 'be', crc, name: `IHDR.${n}` });
    } else if (length > 0 && o + 8 + length <= b.length) {
      // First, middle and last byte of the data (IDAT: zlib header, deflate blocks, adler32).
      for (const k of new Set([0, length >> 1, length - 1])) out.push({ at: o + 8 + k, width: 1, endian: 'be', crc, name: `${type}.data[${k}]` });
    }
    if (type === 'IEND' || length > b.length) break;
    o += 12 + length;
  }
  return out;
}

function jpegFields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  for (let o = 2; o + 4 <= b.length; ) {
    if (b[o] !== 0xff) break;
    const marker = b[o + 1]!;
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      o += 2;
      continue;
    }
    if (marker === 0xd9) break;
    const length = u16be(b, o + 2);
    out.push({ at: o + 2, width: 2, endian: 'be', name: `FF${marker.toString(16)}.length` });
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      out.push(
        { at: o + 4, width: 1, endian: 'be', name: 'SOF.precision' },
        { at: o + 5, width: 2, endian: 'be', name: 'SOF.height' },
        { at: o + 7, width: 2, endian: 'be', name: 'SOF.width' },
        { at: o + 9, width: 1, endian: 'be', name: 'SOF.components' },
      );
      for (let c = 0; c < (b[o + 9] ?? 0) && o + 12 + 3 * c < b.length; c++) {
        out.push({ at: o + 11 + 3 * c, width: 1, endian: 'be', name: `SOF.c${c}.sampling` }, { at: o + 12 + 3 * c, width: 1, endian: 'be', name: `SOF.c${c}.table` });
      }
    } else if (marker === 0xda) {
      out.push({ at: o + 4, width: 1, endian: 'be', name: 'SOS.components' });
      break; // entropy-coded data follows
    } else if (length > 2) {
      out.push({ at: o + 4, width: 1, endian: 'be', name: `FF${marker.toString(16)}.data[0]` });
    }
    o += 2 + length;
  }
  return out;
}

function webpFields(b: Uint8Array): Field[] {
  const out: Field[] = [{ at: 4, width: 4, endian: 'le', name: 'RIFF.size' }];
  for (let o = 12; o + 8 <= b.length; ) {
    const type = String.fromCharCode(...b.subarray(o, o + 4));
    const size = u32le(b, o + 4);
    out.push({ at: o + 4, width: 4, endian: 'le', name: `${type}.size` });
    if (type === 'VP8X') {
      out.push({ at: o + 8, width: 1, endian: 'le', name: 'VP8X.flags' }, { at: o + 12, width: 3, endian: 'le', name: 'VP8X.width-1' }, { at: o + 15, width: 3, endian: 'le', name: 'VP8X.height-1' });
    } else if (type === 'VP8L') {
      out.push({ at: o + 8, width: 1, endian: 'le', name: 'VP8L.signature' }, { at: o + 9, width: 4, endian: 'le', name: 'VP8L.size-bits' });
    } else if (type === 'VP8 ') {
      out.push({ at: o + 8, width: 3, endian: 'le', name: 'VP8.frame-tag' }, { at: o + 14, width: 2, endian: 'le', name: 'VP8.width' }, { at: o + 16, width: 2, endian: 'le', name: 'VP8.height' });
    } else if (type === 'EXIF' || type === 'ALPH' || type === 'ICCP') {
      out.push({ at: o + 8, width: 1, endian: 'le', name: `${type}.data[0]` });
    }
    if (size > b.length) break;
    o += 8 + size + (size & 1);
  }
  return out;
}

/** The structural fields of a JPEG, PNG or WebP file (empty for anything else). */
export function fieldsOf(b: Uint8Array): Field[] {
  const fields =
    b[0] === 0x89 && b[1] === 0x50 ? pngFields(b) : b[0] === 0xff && b[1] === 0xd8 ? jpegFields(b) : b[0] === 0x52 && b[8] === 0x57 ? webpFields(b) : [];
  return fields.filter((f) => f.at + f.width <= b.length);
}

let crcTable: Uint32Array | undefined;
function crc32(bytes: Uint8Array): number {
  crcTable ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let c = 0xffffffff;
  for (const x of bytes) c = crcTable[(c ^ x) & 255]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function writeField(b: Uint8Array, f: Field, value: number): void {
  const v = value >>> 0;
  for (let i = 0; i < f.width; i++) {
    const shift = f.endian === 'be' ? 8 * (f.width - 1 - i) : 8 * i;
    b[f.at + i] = (v / 2 ** shift) & 255;
  }
}

/** Applies edits in order to a copy of `seed`. */
export function applyMutations(seed: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = seed.slice();
  for (const m of mutations) {
    if (b.length === 0) break;
    switch (m.kind) {
      case 'flip':
        b[m.at % b.length]! ^= 1 << m.bit;
        break;
      case 'truncate':
        b = b.slice(0, m.at % b.length);
        break;
      case 'set':
        b[m.at % b.length] = m.value;
        break;
      case 'splice': {
        const from = m.from % b.length;
        const to = m.to % b.length;
        const piece = b.slice(from, from + m.length);
        b = new Uint8Array([...b.subarray(0, to), ...piece, ...b.subarray(to)]);
        break;
      }
      case 'field': {
        const fields = fieldsOf(b);
        if (!fields.length) break;
        const f = fields[m.field % fields.length]!;
        writeField(b, f, m.value);
        if (m.fixCrc && f.crc && f.crc.type + 8 + f.crc.length <= b.length) {
          const crc = crc32(b.subarray(f.crc.type, f.crc.type + 4 + f.crc.length));
          writeField(b, { at: f.crc.type + 4 + f.crc.length, width: 4, endian: 'be', name: 'crc' }, crc);
        }
        break;
      }
    }
  }
  return b;
}

/** Values a header field is set to: the extremes first, then anything. */
const EXTREMES = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0x7fff, 0x8000, 0xffff, 0x10000, 0xffffff, 0x7fffffff, 0x80000000, 0xffffffff];

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0, 0xff, 0x7f, 0x80, 0xd9, 0xda) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('splice' as const), from: fc.nat(), to: fc.nat(), length: fc.integer({ min: 1, max: 512 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('field' as const),
      field: fc.nat(),
      value: fc.oneof(fc.constantFrom(...EXTREMES), fc.nat()),
      fixCrc: fc.boolean(),
    }),
  },
);

/** A seed index and one to four edits. */
export const imageCaseArb = (seeds: number): fc.Arbitrary<{ seed: number; mutations: Mutation[] }> =>
  fc.record({ seed: fc.nat({ max: seeds - 1 }), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }) });
