import type { ImageFormat } from './types.ts';

const startsWith = (b: Uint8Array, sig: readonly number[], at = 0): boolean =>
  b.length >= at + sig.length && sig.every((v, i) => b[at + i] === v);

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff];
const RIFF = ascii('RIFF');
const WEBP = ascii('WEBP');

/** The format from magic bytes, or null. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (startsWith(bytes, JPEG)) return 'jpeg';
  if (startsWith(bytes, PNG)) return 'png';
  if (startsWith(bytes, RIFF) && startsWith(bytes, WEBP, 8)) return 'webp';
  return null;
}

/** Well-known formats we do not decode, named so the error can say what arrived. */
const OTHERS: ReadonlyArray<readonly [string, (b: Uint8Array) => boolean]> = [
  ['GIF', (b) => startsWith(b, ascii('GIF87a')) || startsWith(b, ascii('GIF89a'))],
  ['BMP', (b) => startsWith(b, ascii('BM')) && b.length >= 26],
  ['TIFF', (b) => startsWith(b, ascii('II*\0')) || startsWith(b, ascii('MM\0*'))],
  ['ICO', (b) => startsWith(b, [0, 0, 1, 0]) && b.length >= 22],
  ['PSD', (b) => startsWith(b, ascii('8BPS'))],
  ['JPEG XL', (b) => startsWith(b, [0xff, 0x0a]) || startsWith(b, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20])],
  ['JPEG 2000', (b) => startsWith(b, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20])],
  ['SVG', (b) => /^\s*(<\?xml[^>]*>\s*)?<svg[\s>]/i.test(new TextDecoder().decode(b.subarray(0, 256)))],
  ['PDF', (b) => startsWith(b, ascii('%PDF'))],
];

/** ISO-BMFF brands (HEIC, AVIF, ...) sit in an `ftyp` box at offset 4. */
function isoBrand(b: Uint8Array): string | null {
  if (!startsWith(b, ascii('ftyp'), 4) || b.length < 12) return null;
  const brand = String.fromCharCode(...b.subarray(8, 12));
  if (/^(avif|avis)$/.test(brand)) return 'AVIF';
  if (/^(heic|heix|hevc|hevx|heim|heis|mif1|msf1)$/.test(brand)) return 'HEIC/HEIF';
  return `ISO media (${brand.replace(/[^\x20-\x7e]/g, '?')})`;
}

/** A short name for an unsupported format, or null when the bytes are not recognised at all. */
export function describeUnknownFormat(bytes: Uint8Array): string | null {
  const brand = isoBrand(bytes);
  if (brand) return brand;
  for (const [name, test] of OTHERS) if (test(bytes)) return name;
  return null;
}
