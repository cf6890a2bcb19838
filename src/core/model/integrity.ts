import { ClipEdgeError } from '../errors.ts';

/** Lower-case hex sha256 of bytes (Web Crypto: works on every runtime). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Throws INTEGRITY_MISMATCH when bytes do not have the expected size or sha256. */
export async function verifyBytes(
  bytes: Uint8Array,
  expected: { file: string; bytes?: number; sha256?: string },
): Promise<void> {
  if (expected.bytes !== undefined && bytes.byteLength !== expected.bytes) {
    throw new ClipEdgeError(
      'INTEGRITY_MISMATCH',
      `${expected.file} has ${bytes.byteLength} bytes, the manifest says ${expected.bytes}: the file is truncated or not the one the manifest describes`,
    );
  }
  if (expected.sha256 !== undefined) {
    const actual = await sha256Hex(bytes);
    if (actual !== expected.sha256) {
      throw new ClipEdgeError(
        'INTEGRITY_MISMATCH',
        `${expected.file} has sha256 ${actual}, the manifest says ${expected.sha256}: refusing to load it`,
      );
    }
  }
}
