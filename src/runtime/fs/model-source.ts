import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ClipEdgeError } from '../../core/errors.ts';
import type { ModelSource } from '../../core/model/source.ts';

/** A model folder on disk (Node, Deno and Bun all run this). Paths cannot leave the folder. */
export function fsModelSource(dir: string): ModelSource {
  const root = path.resolve(dir);
  const resolve = (rel: string) => {
    const p = path.resolve(root, rel);
    if (p !== root && !p.startsWith(root + path.sep)) {
      throw new ClipEdgeError('BAD_INPUT', `path "${rel}" leaves the model folder`);
    }
    return p;
  };
  return {
    name: dir,
    freshReads: true, // each read is a new array: the inference thread may take it
    async read(rel) {
      const file = resolve(rel);
      try {
        // A plain Uint8Array over the Buffer's own memory: no second copy of a 350 MB file (the
        // inference thread then moves that memory instead of copying it).
        const b = await readFile(file);
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new ClipEdgeError('MODEL_INVALID', `${dir}/${rel} could not be read: ${(e as Error).message}`, { cause: e });
      }
    },
    async stream(rel) {
      const file = resolve(rel);
      const size = await stat(file).then((s) => s.size, () => undefined);
      // 1 MiB chunks: few enough calls, small enough that no copy of the file is held.
      return size === undefined ? undefined : { size, body: createReadStream(file, { highWaterMark: 1 << 20 }) };
    },
    async exists(rel) {
      const file = resolve(rel);
      // open + close rather than access(): Deno's node:fs access() wants --allow-sys (uid).
      try {
        await (await open(file, 'r')).close();
        return true;
      } catch {
        return false;
      }
    },
  };
}
