import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { toNpy } from '../../../src/core/image/npy.ts';
import { prerequisite } from '../../helpers/prerequisite.ts';

const PYTHON = '/usr/bin/python3';
const hasNumpy = (() => {
  if (!existsSync(PYTHON)) return false;
  try {
    execFileSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('toNpy', () => {
  it('writes a v1.0 header padded to 64 bytes, then little-endian float32', () => {
    const bytes = toNpy(new Float32Array([1, -2.5, 3, 0.25, 5, 6]), [1, 2, 3]);
    expect([...bytes.subarray(0, 8)]).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const headerLength = bytes[8]! | (bytes[9]! << 8);
    expect((10 + headerLength) % 64).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(1, 2, 3\), \} *\n$/);
    const data = new DataView(bytes.buffer, 10 + headerLength);
    expect(data.getFloat32(4, true)).toBe(-2.5);
    expect(bytes.length).toBe(10 + headerLength + 24);
  });

  it('1-d shapes get a trailing comma; a wrong shape is BAD_INPUT', () => {
    expect(new TextDecoder().decode(toNpy(new Float32Array(3), [3]))).toContain("'shape': (3,)");
    expect(() => toNpy(new Float32Array(5), [2, 3])).toThrow(/holds 6 values, the data has 5/);
  });

  it.skipIf(!prerequisite(hasNumpy, 'Debian python3-numpy'))('numpy reads it back (skipped without /usr/bin/python3 + numpy)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'npy-'));
    try {
      const file = path.join(dir, 'x.npy');
      writeFileSync(file, toNpy(Float32Array.from({ length: 24 }, (_, i) => i / 7 - 1), [2, 3, 4]));
      const out = execFileSync(PYTHON, ['-c', `import numpy as n; a = n.load(${JSON.stringify(file)}); print(a.dtype, a.shape, repr(float(a[1, 2, 3])))`]);
      expect(out.toString().trim()).toBe(`float32 (2, 3, 4) ${String(Math.fround(23 / 7 - 1))}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
