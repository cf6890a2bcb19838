import {
  MaxFileSizeExceededError,
  MaxHeaderSizeExceededError,
  MaxPartsExceededError,
  MaxTotalSizeExceededError,
  MultipartParseError,
  parseMultipartRequest,
} from '@remix-run/multipart-parser';
import { ClipEdgeError, isClipEdgeError } from '../core/errors.ts';

/** Limits on a multipart upload, all enforced while the body streams in. */
export interface MultipartLimits {
  /** Parts in one body (the image plus each form field; repeated `labels` fields count one each). */
  maxParts: number;
  /** Bytes of part content in all (the request body limit). */
  maxBytes: number;
  /** Bytes of one text field. */
  maxFieldBytes: number;
}

/** 1 image + up to 256 repeated `labels` + 32 `templates` + `labelSet` + `topK`, with room to spare. */
export const DEFAULT_MAX_MULTIPART_PARTS = 512;
/** Covers 256 labels of 200 characters (UTF-8, up to 4 bytes each) in one comma-separated field. */
export const DEFAULT_MAX_FIELD_BYTES = 256 * 1024;

export interface ImageForm {
  image: Uint8Array;
  /** Text fields by name, in order; repeated names keep every value. */
  fields: Map<string, string[]>;
}

/**
 * The `image` file and the text fields of a `multipart/form-data` request, parsed as the body
 * streams in by @remix-run/multipart-parser (Web streams, so the same on every runtime). Unlike
 * `Request.formData()`, which buffers the body and then parses it in one go (140,000 empty parts
 * held the event loop for ~6 s), the number of parts, each part's header and each field's size
 * are bounded, and parsing stops at the first one past its bound.
 */
export async function readImageForm(req: Request, limits: MultipartLimits): Promise<ImageForm> {
  let image: Uint8Array | undefined;
  const fields = new Map<string, string[]>();
  try {
    for await (const part of parseMultipartRequest(req, { maxParts: limits.maxParts, maxFileSize: limits.maxBytes, maxTotalSize: limits.maxBytes })) {
      const name = part.name ?? '';
      if (name === 'image') {
        if (!part.isFile) throw new ClipEdgeError('BAD_INPUT', 'the "image" field must be a file, not text');
        if (image) throw new ClipEdgeError('BAD_INPUT', 'the multipart body has more than one "image" file: send one');
        image = part.bytes;
      } else if (!part.isFile) {
        if (part.size > limits.maxFieldBytes) throw new ClipEdgeError('BAD_INPUT', `the form field "${name.slice(0, 40)}" is larger than ${limits.maxFieldBytes} bytes`);
        fields.set(name, [...(fields.get(name) ?? []), part.text]);
      }
    }
  } catch (cause) {
    throw multipartError(cause, limits);
  }
  if (!image) throw new ClipEdgeError('BAD_INPUT', 'the multipart body has no "image" field');
  return { image, fields };
}

function multipartError(cause: unknown, limits: MultipartLimits): unknown {
  if (isClipEdgeError(cause)) return cause;
  if (cause instanceof MaxPartsExceededError) return new ClipEdgeError('PAYLOAD_TOO_LARGE', `the multipart body has more than ${limits.maxParts} parts`, { cause });
  if (cause instanceof MaxFileSizeExceededError || cause instanceof MaxTotalSizeExceededError) {
    return new ClipEdgeError('PAYLOAD_TOO_LARGE', `the multipart content is larger than ${limits.maxBytes} bytes`, { cause });
  }
  if (cause instanceof MaxHeaderSizeExceededError) return new ClipEdgeError('BAD_INPUT', 'a multipart part header is too large', { cause });
  if (cause instanceof MultipartParseError) return new ClipEdgeError('BAD_INPUT', `the multipart body could not be parsed: ${cause.message}`, { cause });
  return cause; // a failed body read (timeout, client gone) is already a ClipEdgeError; anything else is ours
}
