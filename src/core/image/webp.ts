import { corrupt, unsupported } from './errors.ts';
import { rgbaToRgb } from './rgba.ts';
import type { RgbImage } from './types.ts';
import { CodecFailure, WasmCodec, type EmscriptenFactory, type ImageCodecWasm, type RgbaPixels } from './wasm-codec.ts';
import type { WebpHeader } from './webp-header.ts';

interface WebpModule {
  decode(data: Uint8Array): RgbaPixels | null;
}

const DISCARD_AFTER_PIXELS = 4_000_000;

export function createWebpCodec(wasm: ImageCodecWasm): WasmCodec<WebpModule> {
  return new WasmCodec<WebpModule>('WebP (libwebp)', wasm.webp, async () => {
    const mod = await import('@jsquash/webp/codec/dec/webp_dec.js');
    return mod.default as unknown as EmscriptenFactory<WebpModule>;
  });
}

/** libwebp, the library PIL uses too; alpha is dropped afterwards (no compositing), as PIL does. */
export async function decodeWebp(codec: WasmCodec<WebpModule>, bytes: Uint8Array, header: WebpHeader): Promise<RgbImage> {
  if (header.animated) throw unsupported('Animated WebP is not supported; send a still image (e.g. its first frame)');
  const pixels = await codec
    .run((m) => m.decode(bytes), header.width * header.height > DISCARD_AFTER_PIXELS)
    .catch((e: unknown) => {
      throw e instanceof CodecFailure ? corrupt('WebP', e.message, e.cause) : e;
    });
  if (!pixels) throw corrupt('WebP', `the decoder could not read the ${header.lossless ? 'lossless' : 'lossy'} bitstream (truncated or damaged data)`);
  if (pixels.width !== header.width || pixels.height !== header.height) {
    throw corrupt('WebP', `decoded ${pixels.width}×${pixels.height}, header said ${header.width}×${header.height}`);
  }
  return rgbaToRgb(pixels);
}
