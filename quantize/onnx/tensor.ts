import { ClipEdgeError } from '../../src/core/errors.ts';
import { toHalf, fromHalf } from '../../src/core/prompt-cache/float16.ts';
import { DT, dtName, numel, tensorProto, type TensorProto } from './model.ts';

/** Bytes of one element for the fixed-size types. */
export const ELEM_BYTES: Readonly<Record<number, number>> = Object.freeze({
  [DT.FLOAT]: 4, [DT.UINT8]: 1, [DT.INT8]: 1, [DT.UINT16]: 2, [DT.INT16]: 2, [DT.INT32]: 4, [DT.INT64]: 8,
  [DT.BOOL]: 1, [DT.FLOAT16]: 2, [DT.DOUBLE]: 8, [DT.UINT32]: 4, [DT.UINT64]: 8, [DT.BFLOAT16]: 2,
});

/** A byte view of a typed array (no copy). */
export const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function rawView<T>(t: TensorProto, bytes: number, make: (buf: ArrayBuffer, off: number, n: number) => T, n: number): T {
  const raw = t.raw_data!;
  if (raw.byteLength !== n * bytes) {
    throw new ClipEdgeError('MODEL_INVALID', `tensor ${t.name}: raw_data holds ${raw.byteLength} bytes, dims [${t.dims.join(', ')}] need ${n * bytes}`);
  }
  // A view when aligned (no copy); an aligned copy of this one tensor otherwise.
  if (raw.byteOffset % bytes === 0) return make(raw.buffer as ArrayBuffer, raw.byteOffset, n);
  const copy = raw.slice();
  return make(copy.buffer, 0, n);
}

const hasRaw = (t: TensorProto) => t.raw_data !== undefined && (t.raw_data.byteLength > 0 || numel(t.dims) === 0);

/** A tensor's values as float32 (float32 read in place, float16/float64 converted). */
export function floatValues(t: TensorProto): Float32Array {
  const n = numel(t.dims);
  if (t.data_location === 1) throw new ClipEdgeError('INTERNAL', `tensor ${t.name}: external data was not loaded`);
  switch (t.data_type) {
    case DT.FLOAT:
      return hasRaw(t) ? rawView(t, 4, (b, o, k) => new Float32Array(b, o, k), n) : Float32Array.from(t.float_data);
    case DT.FLOAT16: {
      const h = hasRaw(t) ? rawView(t, 2, (b, o, k) => new Uint16Array(b, o, k), n) : Uint16Array.from(t.int32_data);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = fromHalf(h[i]!);
      return out;
    }
    case DT.DOUBLE:
      return Float32Array.from(hasRaw(t) ? rawView(t, 8, (b, o, k) => new Float64Array(b, o, k), n) : t.double_data);
    default:
      throw new ClipEdgeError('INTERNAL', `tensor ${t.name} is ${dtName(t.data_type)}, not floating point`);
  }
}

/** A tensor's values as numbers (integer types; int64 through BigInt, exact up to 2^53). */
export function intValues(t: TensorProto): number[] {
  const n = numel(t.dims);
  switch (t.data_type) {
    case DT.INT64:
      return hasRaw(t) ? Array.from(rawView(t, 8, (b, o, k) => new BigInt64Array(b, o, k), n), Number) : t.int64_data.slice();
    case DT.INT32:
      return hasRaw(t) ? Array.from(rawView(t, 4, (b, o, k) => new Int32Array(b, o, k), n)) : t.int32_data.slice();
    case DT.INT8:
      return hasRaw(t) ? Array.from(rawView(t, 1, (b, o, k) => new Int8Array(b, o, k), n)) : t.int32_data.slice();
    case DT.UINT8:
      return hasRaw(t) ? Array.from(rawView(t, 1, (b, o, k) => new Uint8Array(b, o, k), n)) : t.int32_data.slice();
    default:
      throw new ClipEdgeError('INTERNAL', `tensor ${t.name} is ${dtName(t.data_type)}, not an integer type read here`);
  }
}

/** Largest finite float16. */
export const FP16_MAX = 65504;

/** float32 → float16 bits, clamped to ±65504 (a cast would give ±Infinity); returns how many were clamped. */
export function toFloat16(src: Float32Array): { bits: Uint16Array; clamped: number } {
  const bits = new Uint16Array(src.length);
  let clamped = 0;
  for (let i = 0; i < src.length; i++) {
    let x = src[i]!;
    if (x > FP16_MAX) {
      x = FP16_MAX;
      clamped++;
    } else if (x < -FP16_MAX) {
      x = -FP16_MAX;
      clamped++;
    }
    bits[i] = toHalf(x);
  }
  return { bits, clamped };
}

export const floatTensor = (name: string, dims: readonly number[], data: Float32Array): TensorProto =>
  tensorProto(name, DT.FLOAT, dims, bytesOf(data));
export const int64Tensor = (name: string, dims: readonly number[], data: readonly number[]): TensorProto =>
  tensorProto(name, DT.INT64, dims, bytesOf(BigInt64Array.from(data, (x) => BigInt(x))));
