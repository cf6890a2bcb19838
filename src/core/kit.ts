// The library face of a ClipEdge: the same object, with classify/embedImage taking any image
// input (see image/input.ts) instead of bytes only. The HTTP app keeps using the bytes methods.
import type { CallOptions, ClassifyRequest, ClassifyResult, ClipEdge, ImageEmbedding } from './clip.ts';
import type { DeferredImageBytes } from './image/decoder.ts';
import { type ImageInput, type ReadImageOptions, readImageInput } from './image/input.ts';

export interface ClipEdgeKit extends Omit<ClipEdge, 'classify' | 'embedImage'> {
  /**
   * Zero-shot classification of one image: bytes, a Blob/File, a ReadableStream, (Node/Deno/Bun) a
   * file path, or a function that reads its bytes when its decode's turn comes (DeferredImageBytes).
   */
  classify(image: ImageInput | DeferredImageBytes, request: ClassifyRequest, options?: CallOptions): Promise<ClassifyResult>;
  /** The L2-normalised embedding of one image, taking the same inputs as `classify`. */
  embedImage(image: ImageInput | DeferredImageBytes, options?: CallOptions): Promise<ImageEmbedding>;
  /** The underlying kit, whose methods take bytes only (what the HTTP app uses). */
  readonly core: ClipEdge;
}

/** Wraps a ClipEdge so its image methods read any `ImageInput`. */
export function withImageInputs(clip: ClipEdge, options: ReadImageOptions = {}): ClipEdgeKit {
  // A deferred image stays deferred; its bytes pass the same size check once read.
  const bytesOf = async (image: ImageInput | DeferredImageBytes) =>
    typeof image === 'function' ? async () => readImageInput(await image(), options) : readImageInput(image, options);
  const kit = {
    ...clip,
    classify: async (image, request, call) => clip.classify(await bytesOf(image), request, call),
    embedImage: async (image, call) => clip.embedImage(await bytesOf(image), call),
  } as Omit<ClipEdgeKit, 'core'>;
  // Not enumerable: a copy of the kit (`{ ...kit, classify }`) is a new kit, not a view of this one's core.
  return Object.defineProperty(kit, 'core', { value: clip, enumerable: false }) as ClipEdgeKit;
}
