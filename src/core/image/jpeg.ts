import { corrupt } from './errors.ts';
import { assertJpegComplete, type JpegHeader } from './jpeg-header.ts';
import { rgbaToRgb } from './rgba.ts';
import type { RgbImage } from './types.ts';
import { CodecFailure, WasmCodec, type EmscriptenFactory, type ImageCodecWasm, type RgbaPixels } from './wasm-codec.ts';

interface MozJpegModule {
  decode(data: Uint8Array, preserveOrientation: boolean): RgbaPixels | null;
}

/** Above this many pixels the wasm instance is dropped after use so its grown heap can be freed. */
const DISCARD_AFTER_PIXELS = 4_000_000;

export function createJpegCodec(wasm: ImageCodecWasm): WasmCodec<MozJpegModule> {
  return new WasmCodec<MozJpegModule>('JPEG (mozjpeg)', wasm.jpeg, async () => {
    const mod = await import('@jsquash/jpeg/codec/dec/mozjpeg_dec.js');
    return mod.default as unknown as EmscriptenFactory<MozJpegModule>;
  });
}

/**
 * mozjpeg (libjpeg-turbo's decoder: same IDCT and fancy upsampling as PIL's libjpeg-turbo, so the
 * pixels are identical). Orientation is left to the caller (`preserveOrientation: false`).
 */
export async function decodeJpeg(codec: WasmCodec<MozJpegModule>, bytes: Uint8Array, header: JpegHeader): Promise<RgbImage> {
  assertJpegComplete(bytes, header.scanOffset);
  let failure = '';
  const pixels = await codec
    .run((m, log) => {
      const out = m.decode(bytes, false);
      if (!out) failure = log.join('; ');
      return out;
    }, header.width * header.height > DISCARD_AFTER_PIXELS)
    .catch((e: unknown) => {
      throw e instanceof CodecFailure ? corrupt('JPEG', e.message, e.cause) : e;
    });
  if (!pixels) throw corrupt('JPEG', failure || 'the decoder could not read the data');
  if (pixels.width !== header.width || pixels.height !== header.height) {
    throw corrupt('JPEG', `decoded ${pixels.width}×${pixels.height}, header said ${header.width}×${header.height}`);
  }
  return rgbaToRgb(pixels);
}

