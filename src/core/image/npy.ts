import { ClipEdgeError } from '../errors.ts';

/**
 * A float32 tensor as `.npy` bytes (format version 1.0, little-endian '<f4', C order), for
 * comparing with numpy: `np.load(path)`. The header is padded so the data starts on a
 * 64-byte boundary, as numpy writes it.
 */
export function toNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new ClipEdgeError('BAD_INPUT', `npy shape must be non-negative integers, got [${shape.join(', ')}]`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new ClipEdgeError('BAD_INPUT', `npy shape [${shape.join(', ')}] holds ${count} values, the data has ${data.length}`);
  }
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${dims}, }`;
  const preamble = 10; // magic (6) + version (2) + header length (2)
  header += ' '.repeat(63 - ((preamble + header.length) % 64)) + '\n';
  const out = new Uint8Array(preamble + header.length + data.length * 4);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]); // \x93NUMPY v1.0
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  const view = new DataView(out.buffer, preamble + header.length);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}
