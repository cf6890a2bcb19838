import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ImageCodecWasm } from '../../core/image/wasm-codec.ts';

/** Package paths of the decoders' wasm (no `exports` map in @jsquash, so deep paths resolve). */
export const CODEC_WASM_PATHS = Object.freeze({
  jpeg: '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm',
  webp: '@jsquash/webp/codec/dec/webp_dec.wasm',
} as const);

/** This package's codec builds (codecs/<name>/build.sh), beside the image core in src/ and in dist/src/. */
export const JPEG_TURBO_WASM_PATH = fileURLToPath(new URL('../../core/image/libjpeg-turbo.wasm', import.meta.url));
export const WEBP_STREAM_WASM_PATH = fileURLToPath(new URL('../../core/image/libwebp.wasm', import.meta.url));

/**
 * Codec wasm for Node, Deno (with node_modules) and Bun: read from disk and compiled with
 * `WebAssembly.compile` on first use, once per returned object. JPEG is decoded row by row with
 * the package's libjpeg-turbo (PIL's pixels, a few rows of memory; `jpegTurbo: false`: whole, with
 * mozjpeg), and a lossy WebP with the package's libwebp build (lossless WebP: jsquash's, whole).
 */
export function nodeImageCodecs(options: { jpegTurbo?: boolean } = {}): ImageCodecWasm {
  const require = createRequire(import.meta.url);
  const loader = (file: string) => {
    let compiled: Promise<WebAssembly.Module> | null = null;
    return () =>
      (compiled ??= (async () => WebAssembly.compile(await readFile(file)))().catch((e: unknown) => {
        compiled = null;
        throw e;
      }));
  };
  return {
    jpeg: loader(require.resolve(CODEC_WASM_PATHS.jpeg)),
    webp: loader(require.resolve(CODEC_WASM_PATHS.webp)),
    webpStream: loader(WEBP_STREAM_WASM_PATH),
    ...(options.jpegTurbo !== false ? { jpegTurbo: loader(JPEG_TURBO_WASM_PATH) } : {}),
  };
}
