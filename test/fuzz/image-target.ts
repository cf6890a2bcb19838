import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isClipEdgeError } from '../../src/core/errors.ts';
import { createImageDecoder, type ImageDecoder } from '../../src/core/image/decoder.ts';
import { clipPreprocess } from '../../src/core/image/preprocess.ts';
import { nodeImageCodecs } from '../../src/runtime/fs/codecs.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The codes an image decoder may fail with (its documented contract). */
export const IMAGE_ERROR_CODES: ReadonlySet<string> = new Set(['BAD_INPUT', 'UNSUPPORTED_IMAGE', 'CORRUPT_IMAGE', 'IMAGE_TOO_LARGE']);

/** Pixels a fuzzed decode may produce (a 2 MP cap keeps every input's memory bounded and small). */
export const FUZZ_MAX_PIXELS = 2_000_000;

/** Seed files: every format and layout the PIL parity fixtures cover, plus the known-bad ones. */
export function imageSeeds(): { name: string; bytes: Uint8Array }[] {
  const dirs = ['test/fixtures/pil/inputs', 'test/fixtures/pil/bad'];
  return dirs.flatMap((d) =>
    readdirSync(path.join(ROOT, d))
      .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
      .sort()
      .map((f) => ({ name: `${path.basename(d)}/${f}`, bytes: new Uint8Array(readFileSync(path.join(ROOT, d, f))) })),
  );
}

export const fuzzDecoder = (): ImageDecoder => createImageDecoder({ wasm: nodeImageCodecs(), maxPixels: FUZZ_MAX_PIXELS });

export type ImageOutcome = { ok: true; width: number; height: number } | { ok: false; code: string };

/** A broken contract: the input is a finding (a crash, a wrong error, a bad result). */
export class FuzzFinding extends Error {
  override readonly name = 'FuzzFinding';
}

const LEAK = /\/(work|home|usr|tmp)\/|node_modules|\n\s+at |\bat .*:\d+:\d+/;

/**
 * Decodes and preprocesses one input. Allowed: a correct result, or a ClipEdgeError with one of
 * the decoder's codes and a one-line message that leaks no path or stack. Anything else throws
 * a FuzzFinding.
 */
export async function checkImage(decoder: ImageDecoder, bytes: Uint8Array): Promise<ImageOutcome> {
  let img;
  try {
    img = await decoder.decode(bytes);
  } catch (e) {
    if (!isClipEdgeError(e)) throw new FuzzFinding(`decoder threw a non-ClipEdgeError: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, { cause: e });
    if (!IMAGE_ERROR_CODES.has(e.code)) throw new FuzzFinding(`decoder failed with code ${e.code}: ${e.message}`, { cause: e });
    if (!e.message || LEAK.test(e.message)) throw new FuzzFinding(`error message is empty or leaks a path/stack: ${JSON.stringify(e.message)}`);
    return { ok: false, code: e.code };
  }
  const { width, height, data } = img;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new FuzzFinding(`decoded size ${width}×${height}`);
  if (width * height > FUZZ_MAX_PIXELS) throw new FuzzFinding(`decoded ${width}×${height}, over maxPixels ${FUZZ_MAX_PIXELS}`);
  if (data.length !== width * height * 3) throw new FuzzFinding(`decoded ${data.length} bytes for ${width}×${height} RGB`);
  let pixels: Float32Array;
  try {
    pixels = clipPreprocess(img);
  } catch (e) {
    throw new FuzzFinding(`preprocess threw on a decoded ${width}×${height} image: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (pixels.length !== 3 * 224 * 224) throw new FuzzFinding(`preprocess gave ${pixels.length} values`);
  for (let i = 0; i < pixels.length; i++) if (!Number.isFinite(pixels[i]!)) throw new FuzzFinding(`preprocess gave a non-finite value at ${i}`);
  return { ok: true, width, height };
}
