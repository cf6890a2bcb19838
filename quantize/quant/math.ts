/**
 * Weight quantization arithmetic, in plain loops over typed arrays (a ViT-B/32 tower's weights
 * take about a second). Scales of all-zero rows/columns are 1, so dequantizing gives zeros back.
 */

/** Symmetric int8 per output column of a row-major [K, N] matrix: w ≈ q[k, n] · scale[n]. */
export function int8PerColumn(w: Float32Array, K: number, N: number): { q: Int8Array; scale: Float32Array } {
  const amax = new Float32Array(N);
  for (let k = 0; k < K; k++) {
    const row = k * N;
    for (let n = 0; n < N; n++) {
      const a = Math.abs(w[row + n]!);
      if (a > amax[n]!) amax[n] = a;
    }
  }
  const scale = new Float32Array(N);
  const inv = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    scale[n] = amax[n]! > 0 ? amax[n]! / 127 : 1;
    inv[n] = 1 / scale[n]!;
  }
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++) {
    const row = k * N;
    for (let n = 0; n < N; n++) q[row + n] = Math.round(w[row + n]! * inv[n]!);
  }
  return { q, scale };
}

/** Symmetric int8 per row of a row-major [R, C] matrix (an embedding table: one scale per token). */
export function int8PerRow(w: Float32Array, R: number, C: number): { q: Int8Array; scale: Float32Array } {
  const q = new Int8Array(R * C);
  const scale = new Float32Array(R);
  for (let r = 0; r < R; r++) {
    const o = r * C;
    let amax = 0;
    for (let c = 0; c < C; c++) amax = Math.max(amax, Math.abs(w[o + c]!));
    const s = amax > 0 ? amax / 127 : 1;
    scale[r] = s;
    const inv = 1 / s;
    for (let c = 0; c < C; c++) q[o + c] = Math.round(w[o + c]! * inv);
  }
  return { q, scale };
}

/**
 * uint8 per output channel with one shared zero point 128 (ORT's ConvInteger takes only a
 * per-tensor weight zero point, and ORT-web only uint8 weights): w ≈ (q − 128) · scale[m].
 */
export function uint8PerChannelZp128(w: Float32Array, M: number): { q: Uint8Array; scale: Float32Array } {
  const per = w.length / M;
  const { q: s8, scale } = int8PerRow(w, M, per);
  const q = new Uint8Array(s8.length);
  for (let i = 0; i < s8.length; i++) q[i] = s8[i]! + 128;
  return { q, scale };
}

/**
 * 4- or 8-bit block-wise, asymmetric, in com.microsoft MatMulNBits' layout: for output column n
 * and block b of `block` rows of K, `q` holds [N, blocks, block·bits/8] bytes (4-bit: two values
 * a byte, the first in the low nibble), `scale` [N·blocks], `zeroPoint` [N·ceil(blocks·bits/8)]
 * packed the same way. w[k, n] ≈ (q − zp) · scale. K is padded with zeros to a whole number of blocks.
 */
export function nBitBlockwise(w: Float32Array, K: number, N: number, block: number, bits: 4 | 8 = 4) {
  const blocks = Math.ceil(K / block);
  const perByte = 8 / bits;
  const top = (1 << bits) - 1;
  const blob = block / perByte;
  const zpBytes = Math.ceil(blocks / perByte);
  const q = new Uint8Array(N * blocks * blob);
  const scale = new Float32Array(N * blocks);
  const zeroPoint = new Uint8Array(N * zpBytes);
  // Value i of a run of packed values: its byte, and its shift within the byte (low nibble first).
  const put = (a: Uint8Array, base: number, i: number, v: number) => {
    a[base + Math.floor(i / perByte)]! |= v << ((i % perByte) * bits);
  };
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      let lo = 0;
      let hi = 0;
      const k0 = b * block;
      const k1 = Math.min(K, k0 + block);
      for (let k = k0; k < k1; k++) {
        const v = w[k * N + n]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const s = hi > lo ? (hi - lo) / top : 1;
      const zp = Math.min(top, Math.max(0, Math.round(-lo / s)));
      scale[n * blocks + b] = s;
      put(zeroPoint, n * zpBytes, b, zp);
      const base = (n * blocks + b) * blob;
      for (let k = k0; k < k0 + block; k++) {
        const v = k < K ? Math.min(top, Math.max(0, Math.round(w[k * N + n]! / s) + zp)) : zp;
        put(q, base, k - k0, v);
      }
    }
  }
  return { q, scale, zeroPoint, blocks, blob };
}

/** {@link nBitBlockwise} at 4 bits. */
export const q4Blockwise = (w: Float32Array, K: number, N: number, block: number) => nBitBlockwise(w, K, N, block, 4);
