import jpegWasm from '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm';
import webpWasm from '@jsquash/webp/codec/dec/webp_dec.wasm';
import type { ImageCodecWasm } from '../../core/image/wasm-codec.ts';

/** The image decoders' wasm, imported as modules (compiled at upload: Workers may not compile bytes). */
export const workersImageCodecs = (): ImageCodecWasm => ({
  jpeg: async () => jpegWasm,
  webp: async () => webpWasm,
});
