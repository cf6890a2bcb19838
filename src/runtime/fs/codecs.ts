import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { ImageCodecWasm } from '../../core/image/wasm-codec.ts';

/** Package paths of the decoders' wasm (no `exports` map in @jsquash, so deep paths resolve). */
export const CODEC_WASM_PATHS = Object.freeze({
  jpeg: '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm',
  webp: '@jsquash/webp/codec/dec/webp_dec.wasm',
  jpegTurbo: '@cwasm/jpeg-turbo/jpeg-turbo.wasm',
} as const);

/**
 * Codec wasm for Node, Deno (with node_modules) and Bun: read from node_modules and compiled
 * with `WebAssembly.compile` on first use, once per returned object. `jpegTurbo: true` decodes
 * JPEG with libjpeg-turbo instead of mozjpeg (same pixels, less memory).
 */
export function nodeImageCodecs(options: { jpegTurbo?: boolean } = {}): ImageCodecWasm {
  const require = createRequire(import.meta.url);
  const loader = (specifier: string) => {
    let compiled: Promise<WebAssembly.Module> | null = null;
    return () =>
      (compiled ??= (async () => WebAssembly.compile(await readFile(require.resolve(specifier))))().catch((e: unknown) => {
        compiled = null;
        throw e;
      }));
  };
  return {
    jpeg: loader(CODEC_WASM_PATHS.jpeg),
    webp: loader(CODEC_WASM_PATHS.webp),
    // libjpeg-turbo instead of mozjpeg: less memory, DCT scaling available (as on Workers).
    ...(options.jpegTurbo ? { jpegTurbo: loader(CODEC_WASM_PATHS.jpegTurbo) } : {}),
  };
}
