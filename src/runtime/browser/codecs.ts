import type { ImageCodecWasm } from '../../core/image/wasm-codec.ts';

/**
 * File names of the decoders' wasm, served together from one folder (`codecBaseUrl`):
 * - `jpegTurbo`, `webpStream`: this package's libjpeg-turbo and libwebp builds
 *   (`clip-edge/dist/src/core/image/`, from codecs/): every JPEG and every lossy WebP goes to
 *   CLIP's crop row by row, so a 12–48 MP phone photo needs a few MB of wasm memory, not 4 bytes
 *   per pixel;
 * - `webp`: jsquash's whole-image libwebp (`@jsquash/webp/codec/dec/`), only for what libwebp
 *   cannot stream: lossless and animated WebP.
 * PNG needs no wasm (the browser's DecompressionStream, row by row). Each file is fetched only when
 * the first image that needs it arrives.
 */
export const CODEC_WASM_FILES = Object.freeze({ jpegTurbo: 'libjpeg-turbo.wasm', webpStream: 'libwebp.wasm', webp: 'webp_dec.wasm' } as const);

/** Codec wasm fetched from `<baseUrl>/<file>` and compiled on first use. */
export function browserImageCodecs(baseUrl: string | URL, fetchImpl: typeof fetch = (i, init) => fetch(i, init)): ImageCodecWasm {
  const loader = (file: string) => async () => {
    const url = new URL(file, new URL(baseUrl, globalThis.location?.href)).href;
    const res = await fetchImpl(url);
    // Say which file and where it comes from: a page of one's own must serve all three (docs/mobile-web.md).
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status} (serve ${file} from codecBaseUrl; see CODEC_WASM_FILES)`);
    return WebAssembly.compile(await res.arrayBuffer());
  };
  return { jpegTurbo: loader(CODEC_WASM_FILES.jpegTurbo), webpStream: loader(CODEC_WASM_FILES.webpStream), webp: loader(CODEC_WASM_FILES.webp) };
}
