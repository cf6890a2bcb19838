// The image inputs the library methods take, read into bytes once: what a caller has in hand in
// each runtime (bytes, a File from an <input>, a fetch body, a path on a server) without making
// them convert it first. Web-standard only; file paths come through a hook the runtime supplies.
import { ClipEdgeError } from '../errors.ts';
import { concatBytes } from '../bytes.ts';

/** An encoded image (JPEG, PNG or WebP), in any form a runtime hands one over. */
export type ImageSource = Uint8Array | ArrayBuffer | ArrayBufferView | Blob | ReadableStream<Uint8Array> | Response;

/** An `ImageSource`, or (Node, Deno, Bun) a file path or `file:` URL. */
export type ImageInput = ImageSource | string | URL;

export interface ReadImageOptions {
  /** Largest encoded image read. @defaultValue {@link DEFAULT_MAX_IMAGE_BYTES} */
  maxBytes?: number;
  /** Reads a path or `file:` URL (supplied by the Node/Deno/Bun adapters); absent elsewhere. */
  readPath?: (path: string | URL, maxBytes: number) => Promise<Uint8Array>;
}

/** 64 MiB: far above any photo (a 40 MP JPEG is ~20 MB), low enough to refuse a wrong file early. */
export const DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024;

const tooLarge = (n: number | string, max: number) =>
  new ClipEdgeError('PAYLOAD_TOO_LARGE', `the image has ${n} bytes, more than the ${max} allowed (maxBytes)`, { details: { maxBytes: max } });

/** Reads a stream to its end, refusing it as soon as it passes `maxBytes`. */
async function readStream(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(`over ${maxBytes}`, maxBytes);
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}

/** The bytes of an image input; BAD_INPUT for anything that is not one, PAYLOAD_TOO_LARGE past `maxBytes`. */
export async function readImageInput(input: ImageInput, options: ReadImageOptions = {}): Promise<Uint8Array> {
  const max = options.maxBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  const sized = (b: Uint8Array) => {
    if (b.byteLength > max) throw tooLarge(b.byteLength, max);
    return b;
  };
  if (input instanceof Uint8Array) return sized(input);
  if (input instanceof ArrayBuffer) return sized(new Uint8Array(input));
  if (ArrayBuffer.isView(input)) return sized(new Uint8Array(input.buffer, input.byteOffset, input.byteLength));
  if (typeof Blob !== 'undefined' && input instanceof Blob) {
    if (input.size > max) throw tooLarge(input.size, max);
    return new Uint8Array(await input.arrayBuffer());
  }
  if (typeof Response !== 'undefined' && input instanceof Response) {
    if (!input.ok) throw new ClipEdgeError('BAD_INPUT', `the image response has status ${input.status}`);
    return input.body ? readStream(input.body, max) : new Uint8Array(0);
  }
  if (typeof ReadableStream !== 'undefined' && input instanceof ReadableStream) return readStream(input, max);
  if (typeof input === 'string' || input instanceof URL) {
    if (!options.readPath) {
      throw new ClipEdgeError('BAD_INPUT', 'file paths are read on Node, Deno and Bun only: pass the image as bytes, a Blob/File or a ReadableStream');
    }
    return options.readPath(input, max);
  }
  throw new ClipEdgeError('BAD_INPUT', `not an image input: expected bytes, a Blob/File, a ReadableStream${options.readPath ? ' or a file path' : ''}`);
}
