import type { RgbImage } from './types.ts';
import type { RgbaPixels } from './wasm-codec.ts';

/** Drops alpha without compositing, as PIL's `convert("RGB")` does for RGBA. */
export function rgbaToRgb(px: RgbaPixels): RgbImage {
  const n = px.width * px.height;
  const src = px.data;
  const out = new Uint8Array(n * 3);
  for (let i = 0, s = 0, o = 0; i < n; i++, s += 4, o += 3) {
    out[o] = src[s]!;
    out[o + 1] = src[s + 1]!;
    out[o + 2] = src[s + 2]!;
  }
  return { width: px.width, height: px.height, data: out };
}
