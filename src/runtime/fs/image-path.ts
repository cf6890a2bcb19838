import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { concatBytes } from '../../core/bytes.ts';
import { ClipEdgeError } from '../../core/errors.ts';

/**
 * A file path or `file:` URL → bytes, refused as soon as it passes `maxBytes`. Read through an
 * open handle rather than stat + readFile: Deno's node:fs stat asks for --allow-sys (uid).
 */
export async function readImagePath(p: string | URL, maxBytes: number): Promise<Uint8Array> {
  const file = p instanceof URL ? fileURLToPath(p) : p;
  const cannot = (cause: unknown) => {
    const code = (cause as NodeJS.ErrnoException).code;
    return new ClipEdgeError('BAD_INPUT', `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code ?? 'error'}`, { cause });
  };
  const handle = await open(file, 'r').catch((e: unknown) => {
    throw cannot(e);
  });
  try {
    const chunks: Uint8Array[] = [];
    let n = 0;
    for (;;) {
      const chunk = new Uint8Array(1 << 20);
      const { bytesRead } = await handle.read(chunk, 0, chunk.byteLength, null).catch((e: unknown) => {
        throw cannot(e);
      });
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > maxBytes) throw new ClipEdgeError('PAYLOAD_TOO_LARGE', `${file} has more than the ${maxBytes} bytes allowed (maxImageBytes)`);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return concatBytes(chunks);
  } finally {
    await handle.close();
  }
}
