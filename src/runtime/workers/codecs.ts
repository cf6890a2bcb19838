import jpegTurboWasm from '@cwasm/jpeg-turbo/jpeg-turbo.wasm';
import webpWasm from '@jsquash/webp/codec/dec/webp_dec.wasm';
import type { ImageCodecWasm } from '../../core/image/wasm-codec.ts';

/**
 * The image decoders' wasm, imported as modules (compiled at upload: Workers may not compile bytes).
 * JPEG uses libjpeg-turbo rather than mozjpeg: it is resized straight from the codec's memory (a
 * 12 MP photo costs ~37 MB of wasm instead of ~95 MB of wasm plus copies) and can be DCT-scaled.
 */
export const workersImageCodecs = (): ImageCodecWasm => ({
  jpegTurbo: async () => jpegTurboWasm,
  webp: async () => webpWasm,
});
