import jpegTurboWasm from '../../core/image/libjpeg-turbo.wasm';
import webpStreamWasm from '../../core/image/libwebp.wasm';
import webpWasm from '@jsquash/webp/codec/dec/webp_dec.wasm';
import type { ImageCodecWasm } from '../../core/image/wasm-codec.ts';

/**
 * The image decoders' wasm, imported as modules (compiled at upload: Workers may not compile bytes).
 * JPEG uses the package's libjpeg-turbo build rather than mozjpeg: decoded row by row into the resize
 * (a 12 MP baseline photo costs ~2 MB of wasm instead of ~95 MB of wasm plus copies).
 */
export const workersImageCodecs = (): ImageCodecWasm => ({
  jpegTurbo: async () => jpegTurboWasm,
  webp: async () => webpWasm,
  webpStream: async () => webpStreamWasm,
});
