/** One Uint8Array holding `chunks` back to back (the chunk itself when there is only one). */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let n = 0;
  for (const c of chunks) n += c.byteLength;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Gives `bytes`' memory back now, where the runtime can (ArrayBuffer.prototype.transfer: workerd,
 * Node ≥ 21, Deno, Bun, browsers), instead of at the next GC: only when they cover their whole
 * buffer, which the caller owns and nothing else reads afterwards (a buffer already detached, e.g.
 * moved to a thread, is left as it is).
 */
export function freeBytes(bytes: ArrayBufferView): void {
  const buffer = bytes.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer; detached?: boolean };
  if (typeof buffer.transfer !== 'function' || buffer.detached || buffer.byteLength === 0) return;
  if (bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength) buffer.transfer(0);
}
