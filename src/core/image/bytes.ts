import { corrupt } from './errors.ts';

/** A bounds-checked big-endian / little-endian reader over a byte array; reads past the end throw CORRUPT_IMAGE. */
export class ByteReader {
  constructor(
    readonly bytes: Uint8Array,
    private readonly format: string,
  ) {}

  need(offset: number, length: number, what: string): void {
    if (offset < 0 || length < 0 || offset + length > this.bytes.length) {
      throw corrupt(this.format, `data ends inside the ${what} (truncated file?)`);
    }
  }

  u8(o: number, what: string): number {
    this.need(o, 1, what);
    return this.bytes[o]!;
  }

  u16be(o: number, what: string): number {
    this.need(o, 2, what);
    return (this.bytes[o]! << 8) | this.bytes[o + 1]!;
  }

  u32be(o: number, what: string): number {
    this.need(o, 4, what);
    return ((this.bytes[o]! << 24) | (this.bytes[o + 1]! << 16) | (this.bytes[o + 2]! << 8) | this.bytes[o + 3]!) >>> 0;
  }

  u24le(o: number, what: string): number {
    this.need(o, 3, what);
    return this.bytes[o]! | (this.bytes[o + 1]! << 8) | (this.bytes[o + 2]! << 16);
  }

  u32le(o: number, what: string): number {
    this.need(o, 4, what);
    return (this.bytes[o]! | (this.bytes[o + 1]! << 8) | (this.bytes[o + 2]! << 16) | (this.bytes[o + 3]! << 24)) >>> 0;
  }

  ascii(o: number, length: number, what: string): string {
    this.need(o, length, what);
    return String.fromCharCode(...this.bytes.subarray(o, o + length));
  }
}
