import type { RgbImage } from './types.ts';

/**
 * PNG samples to 8-bit RGB as PIL's `Image.open(f).convert("RGB")` gives them:
 * - 16-bit samples keep their high byte (PIL's rawmodes "RGB;16B", "LA;16B", "RGBA;16B"; for
 *   16-bit grey PIL would clip to white, and we deliberately take the high byte there too);
 * - 1/2/4-bit grey is scaled to 0..255 (×255, ×85, ×17), as PIL unpacks "1", "L;2", "L;4";
 * - palette indices go through PLTE; alpha from tRNS is dropped, as are alpha channels (PIL's
 *   convert("RGB") does not composite);
 * - grey becomes R = G = B.
 */
export interface PngSamples {
  readonly width: number;
  readonly height: number;
  readonly colorType: 0 | 2 | 3 | 4 | 6;
  readonly depth: 1 | 2 | 4 | 8 | 16;
  /** One sample per array element for depth 8/16; packed rows (MSB first) for depth < 8. */
  readonly data: Uint8Array | Uint8ClampedArray | Uint16Array;
  /** Whether `data` is packed rows (depth < 8 from fast-png) or one sample per byte. */
  readonly packed: boolean;
  readonly palette?: ReadonlyArray<ArrayLike<number>>;
}

export function pngToRgb(s: PngSamples): RgbImage {
  const { width, height, colorType } = s;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  if (colorType === 3) {
    const lut = paletteLut(s.palette ?? []);
    const idx = s.depth < 8 && s.packed ? unpack(s.data as Uint8Array, width, height, s.depth) : (s.data as Uint8Array);
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      const p = idx[i]! * 3;
      out[o] = lut[p]!;
      out[o + 1] = lut[p + 1]!;
      out[o + 2] = lut[p + 2]!;
    }
    return { width, height, data: out };
  }
  if (s.depth < 8) {
    const grey = s.packed ? unpack(s.data as Uint8Array, width, height, s.depth) : (s.data as Uint8Array);
    const scale = 255 / ((1 << s.depth) - 1); // 255, 85, 17: exact integers
    for (let i = 0, o = 0; i < n; i++, o += 3) out[o] = out[o + 1] = out[o + 2] = grey[i]! * scale;
    return { width, height, data: out };
  }
  const channels = colorType === 0 ? 1 : colorType === 4 ? 2 : colorType === 2 ? 3 : 4;
  const shift = s.depth === 16 ? 8 : 0;
  const d = s.data;
  if (channels <= 2) {
    for (let i = 0, p = 0, o = 0; i < n; i++, p += channels, o += 3) out[o] = out[o + 1] = out[o + 2] = d[p]! >> shift;
  } else {
    for (let i = 0, p = 0, o = 0; i < n; i++, p += channels, o += 3) {
      out[o] = d[p]! >> shift;
      out[o + 1] = d[p + 1]! >> shift;
      out[o + 2] = d[p + 2]! >> shift;
    }
  }
  return { width, height, data: out };
}

/**
 * 256 RGB entries. Indices past the end of PLTE read PIL's default palette entry, a grey ramp
 * (index i → (i, i, i)), which is what PIL 9's convert("RGB") gives for them.
 */
export function paletteLut(palette: ReadonlyArray<ArrayLike<number>>): Uint8Array {
  const lut = new Uint8Array(768);
  for (let i = 0; i < 256; i++) lut[i * 3] = lut[i * 3 + 1] = lut[i * 3 + 2] = i;
  for (let i = 0; i < Math.min(256, palette.length); i++) {
    const e = palette[i]!;
    lut[i * 3] = e[0]!;
    lut[i * 3 + 1] = e[1]!;
    lut[i * 3 + 2] = e[2]!;
  }
  return lut;
}

/** Packed sub-byte rows (each row starts on a byte boundary) to one sample per byte. */
export function unpack(packed: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const stride = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0, o = 0; y < height; y++) {
    const row = y * stride;
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      out[o++] = (packed[row + (bit >> 3)]! >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}
