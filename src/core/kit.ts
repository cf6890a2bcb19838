// The library face of a ClipEdge: the same object, with classify/embedImage taking any image
// input (see image/input.ts) instead of bytes only. The HTTP app keeps using the bytes methods.
import type { CallOptions, ClassifyRequest, ClassifyResult, ClipEdge, ImageEmbedding } from './clip.ts';
import { type ImageInput, type ReadImageOptions, readImageInput } from './image/input.ts';

export interface ClipEdgeKit extends Omit<ClipEdge, 'classify' | 'embedImage'> {
  /** Zero-shot classification of one image: bytes, a Blob/File, a ReadableStream, or (Node/Deno/Bun) a file path. */
  classify(image: ImageInput, request: ClassifyRequest, options?: CallOptions): Promise<ClassifyResult>;
  /** The L2-normalised embedding of one image, taking the same inputs as `classify`. */
  embedImage(image: ImageInput, options?: CallOptions): Promise<ImageEmbedding>;
  /** The underlying kit, whose methods take bytes only (what the HTTP app uses). */
  readonly core: ClipEdge;
}

/** Wraps a ClipEdge so its image methods read any `ImageInput`. */
export function withImageInputs(clip: ClipEdge, options: ReadImageOptions = {}): ClipEdgeKit {
  const kit = {
    ...clip,
    classify: async (image, request, call) => clip.classify(await readImageInput(image, options), request, call),
    embedImage: async (image, call) => clip.embedImage(await readImageInput(image, options), call),
  } as Omit<ClipEdgeKit, 'core'>;
  // Not enumerable: a copy of the kit (`{ ...kit, classify }`) is a new kit, not a view of this one's core.
  return Object.defineProperty(kit, 'core', { value: clip, enumerable: false }) as ClipEdgeKit;
}
