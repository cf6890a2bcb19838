// Property tests of the weight quantization arithmetic (quantize/quant/math.ts) against its
// definition, on arbitrary matrices (fast-check): every reconstruction within half a step, the
// integer range used exactly, zero rows and zero points as specified.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { int8PerColumn, int8PerRow, nBitBlockwise, q4Blockwise, uint8PerChannelZp128 } from '../../quantize/quant/math.ts';

/** A [rows, cols] float32 matrix with some all-zero and some constant columns/rows mixed in. */
const matrix = (maxRows = 12, maxCols = 12) =>
  fc
    .record({
      rows: fc.integer({ min: 1, max: maxRows }),
      cols: fc.integer({ min: 1, max: maxCols }),
      magnitude: fc.constantFrom(1e-6, 1e-3, 1, 37, 1e4),
      seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      zeroEvery: fc.integer({ min: 0, max: 4 }),
    })
    .map(({ rows, cols, magnitude, seed, zeroEvery }) => {
      let x = seed;
      const w = new Float32Array(rows * cols).map(() => {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        return Math.fround((x / 2 ** 32 - 0.5) * 2 * magnitude);
      });
      // Zero out every zeroEvery-th column (a dead channel) when asked.
      if (zeroEvery) for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c += zeroEvery + 1) w[r * cols + c] = 0;
      return { w, rows, cols };
    });

/** Half a quantization step, plus float32 rounding of the stored scale and of the product. */
const halfStep = (scale: number, v: number) => scale / 2 + 4 * Math.abs(v) * 2 ** -23 + Number.MIN_VALUE;

const RUNS = { numRuns: 300 };

describe('int8 symmetric per output column (MatMul weights, [K, N])', () => {
  it('|w − q·scale| ≤ scale/2 for every weight', () => {
    fc.assert(
      fc.property(matrix(), ({ w, rows: K, cols: N }) => {
        const { q, scale } = int8PerColumn(w, K, N);
        for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) {
          const v = w[k * N + n]!;
          if (Math.abs(v - q[k * N + n]! * scale[n]!) > halfStep(scale[n]!, v)) return false;
        }
        return true;
      }),
      RUNS,
    );
  });

  it('uses the int range exactly: scale = amax/127, the largest |q| of a column is 127, never −128; a zero column has scale 1 and q = 0', () => {
    fc.assert(
      fc.property(matrix(), ({ w, rows: K, cols: N }) => {
        const { q, scale } = int8PerColumn(w, K, N);
        for (let n = 0; n < N; n++) {
          let amax = 0;
          let qmax = 0;
          for (let k = 0; k < K; k++) {
            amax = Math.max(amax, Math.abs(w[k * N + n]!));
            qmax = Math.max(qmax, Math.abs(q[k * N + n]!));
            if (q[k * N + n] === -128) return false;
          }
          if (amax === 0 ? scale[n] !== 1 || qmax !== 0 : scale[n] !== Math.fround(amax / 127) || qmax !== 127) return false;
        }
        return true;
      }),
      RUNS,
    );
  });

  it('a worked example: column amax 2.54 → scale 0.02, 1.0 → 50, −0.011 → −1, 0.011 → 1 (rounded, not truncated)', () => {
    const { q, scale } = int8PerColumn(Float32Array.of(2.54, 0, 1.0, 0, -0.011, 0, 0.011, 0), 4, 2);
    expect(scale[0]).toBeCloseTo(0.02, 7);
    expect(scale[1]).toBe(1);
    expect(Array.from(q)).toEqual([127, 0, 50, 0, -1, 0, 1, 0]);
  });
});

describe('int8 symmetric per row (token embedding table, [R, C])', () => {
  it('|w − q·scale| ≤ scale/2, scale = amax/127 per row, |q| reaches 127 exactly, zero rows → scale 1', () => {
    fc.assert(
      fc.property(matrix(), ({ w, rows: R, cols: C }) => {
        const { q, scale } = int8PerRow(w, R, C);
        for (let r = 0; r < R; r++) {
          let amax = 0;
          let qmax = 0;
          for (let c = 0; c < C; c++) {
            const v = w[r * C + c]!;
            amax = Math.max(amax, Math.abs(v));
            qmax = Math.max(qmax, Math.abs(q[r * C + c]!));
            if (Math.abs(v - q[r * C + c]! * scale[r]!) > halfStep(scale[r]!, v)) return false;
          }
          if (amax === 0 ? scale[r] !== 1 || qmax !== 0 : scale[r] !== Math.fround(amax / 127) || qmax !== 127) return false;
        }
        return true;
      }),
      RUNS,
    );
  });
});

describe('uint8 per output channel with zero point 128 (ConvInteger weights, [M, …])', () => {
  it('|w − (q − 128)·scale| ≤ scale/2; q ∈ [1, 255]; the zero point maps 0 exactly; the channel uses ±127 around it', () => {
    fc.assert(
      fc.property(matrix(), ({ w, rows: M, cols: per }) => {
        const { q, scale } = uint8PerChannelZp128(w, M);
        if (!(q instanceof Uint8Array) || q.length !== w.length || scale.length !== M) return false;
        for (let m = 0; m < M; m++) {
          let dev = 0;
          for (let i = 0; i < per; i++) {
            const v = w[m * per + i]!;
            const u = q[m * per + i]!;
            if (u < 1 || u > 255) return false;
            if (v === 0 && u !== 128) return false;
            if (Math.abs(v - (u - 128) * scale[m]!) > halfStep(scale[m]!, v)) return false;
            dev = Math.max(dev, Math.abs(u - 128));
          }
          if (dev !== (scale[m] === 1 && w.subarray(m * per, (m + 1) * per).every((v) => v === 0) ? 0 : 127)) return false;
        }
        return true;
      }),
      RUNS,
    );
  });
});

/** Unpacks MatMulNBits' nibbles back to w[k, n] ≈ (q − zp) · scale. */
function dequantQ4(r: ReturnType<typeof q4Blockwise>, K: number, N: number, block: number) {
  const out = new Float32Array(K * N);
  const nib = (bytes: Uint8Array, i: number) => (i & 1 ? bytes[i >> 1]! >> 4 : bytes[i >> 1]! & 15);
  const zpBytes = Math.ceil(r.blocks / 2);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) {
    const b = Math.floor(k / block);
    const q = nib(r.q.subarray((n * r.blocks + b) * r.blob), k - b * block);
    const zp = nib(r.zeroPoint.subarray(n * zpBytes), b);
    out[k * N + n] = (q - zp) * r.scale[n * r.blocks + b]!;
  }
  return out;
}

describe('4-bit block-wise asymmetric (MatMulNBits layout)', () => {
  it('|w − (q − zp)·scale| ≤ scale/2; scale = (max − min)/15 over the block and 0; zp ∈ [0, 15]; 0 is exact; padding holds the zero point', () => {
    fc.assert(
      fc.property(matrix(70, 6), fc.constantFrom(16, 32), ({ w, rows: K, cols: N }, block) => {
        const r = q4Blockwise(w, K, N, block);
        // MatMulNBits' layout: two 4-bit values a byte, [N, blocks, block/2]; zero points packed two a byte.
        if (r.blocks !== Math.ceil(K / block) || r.blob !== block / 2 || r.q.length !== N * r.blocks * (block / 2)) return false;
        if (r.scale.length !== N * r.blocks || r.zeroPoint.length !== N * Math.ceil(r.blocks / 2)) return false;
        const back = dequantQ4(r, K, N, block);
        for (let n = 0; n < N; n++) for (let b = 0; b < r.blocks; b++) {
          let lo = 0;
          let hi = 0;
          for (let k = b * block; k < Math.min(K, (b + 1) * block); k++) {
            lo = Math.min(lo, w[k * N + n]!);
            hi = Math.max(hi, w[k * N + n]!);
          }
          const s = r.scale[n * r.blocks + b]!;
          if (s !== (hi > lo ? Math.fround((hi - lo) / 15) : 1)) return false;
          for (let k = b * block; k < Math.min(K, (b + 1) * block); k++) {
            const v = w[k * N + n]!;
            if (Math.abs(v - back[k * N + n]!) > halfStep(s, v) + s * 1e-6) return false;
            if (v === 0 && back[k * N + n] !== 0) return false;
          }
          // Rows past K in the last block hold the zero point (they dequantize to 0).
          const zp = (r.zeroPoint[n * Math.ceil(r.blocks / 2) + (b >> 1)]! >> (b & 1 ? 4 : 0)) & 15;
          for (let i = K - b * block; i < block; i++) {
            if (i < 0) continue;
            const byte = r.q[(n * r.blocks + b) * r.blob + (i >> 1)]!;
            if (((byte >> (i & 1 ? 4 : 0)) & 15) !== zp) return false;
          }
        }
        return true;
      }),
      RUNS,
    );
  });
});

describe('8-bit block-wise asymmetric (MatMulNBits layout, bits = 8)', () => {
  it('one byte a weight, [N, blocks, block]; scale = (max − min)/255 over the block and 0; |w − (q − zp)·scale| ≤ scale/2; padding holds the zero point', () => {
    fc.assert(
      fc.property(matrix(70, 6), fc.constantFrom(16, 32), ({ w, rows: K, cols: N }, block) => {
        const r = nBitBlockwise(w, K, N, block, 8);
        if (r.blocks !== Math.ceil(K / block) || r.blob !== block || r.q.length !== N * r.blocks * block) return false;
        if (r.scale.length !== N * r.blocks || r.zeroPoint.length !== N * r.blocks) return false;
        for (let n = 0; n < N; n++) for (let b = 0; b < r.blocks; b++) {
          let lo = 0;
          let hi = 0;
          for (let k = b * block; k < Math.min(K, (b + 1) * block); k++) {
            lo = Math.min(lo, w[k * N + n]!);
            hi = Math.max(hi, w[k * N + n]!);
          }
          const s = r.scale[n * r.blocks + b]!;
          if (s !== (hi > lo ? Math.fround((hi - lo) / 255) : 1)) return false;
          const zp = r.zeroPoint[n * r.blocks + b]!;
          for (let i = 0; i < block; i++) {
            const q = r.q[(n * r.blocks + b) * block + i]!;
            const k = b * block + i;
            if (k >= K) {
              if (q !== zp) return false;
              continue;
            }
            const v = w[k * N + n]!;
            const back = (q - zp) * s;
            if (Math.abs(v - back) > halfStep(s, v) + s * 1e-6) return false;
            if (v === 0 && back !== 0) return false;
          }
        }
        return true;
      }),
      RUNS,
    );
  });
});
