import type { ImageCodecWasm } from '../../core/image/wasm-codec.ts';

/** File names of the decoders' wasm (from `@jsquash/jpeg/codec/dec/` and `@jsquash/webp/codec/dec/`). */
export const CODEC_WASM_FILES = Object.freeze({ jpeg: 'mozjpeg_dec.wasm', webp: 'webp_dec.wasm' } as const);

/** Codec wasm fetched from `<baseUrl>/<file>` and compiled on first use. */
export function browserImageCodecs(baseUrl: string | URL, fetchImpl: typeof fetch = (i, init) => fetch(i, init)): ImageCodecWasm {
  const loader = (file: string) => async () => {
    const res = await fetchImpl(new URL(file, new URL(baseUrl, globalThis.location?.href)).href);
    if (!res.ok) throw new Error(`${file}: HTTP ${res.status}`);
    return WebAssembly.compile(await res.arrayBuffer());
  };
  return { jpeg: loader(CODEC_WASM_FILES.jpeg), webp: loader(CODEC_WASM_FILES.webp) };
}
