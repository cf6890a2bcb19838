/*
 * clip-edge's row-streaming interface to libwebp's lossy (VP8) decoder, for WebAssembly (built by
 * build.sh).
 *
 * Why: libwebp's public calls (WebPDecodeRGB, the incremental WebPIDecoder) all write into an output
 * buffer of the whole image (a 12 MP photo: 36 MB RGB; jsquash's build: RGBA, then a JS copy). Here
 * the decode is libwebp's own (DecodeInto in src/dec/webp_dec.c, with the same defaults: fancy
 * upsampling, in-loop filtering, no dithering), but its put() hook is wrapped: each batch of rows the
 * fancy upsampler emits lands in a small ring of rows and is handed to JavaScript (js_rows) at once,
 * which resizes it into CLIP's crop. Memory: the file, VP8's row caches and the ring, O(width).
 *
 * The alpha plane (ALPH) is not decoded: PIL's convert("RGB") drops alpha, and libwebp's RGB
 * samples do not depend on it. Lossless (VP8L) images cannot be streamed: their backward references
 * reach anywhere in the image already decoded, so libwebp keeps it all; the caller decodes them
 * whole instead.
 */
#include <stdlib.h>
#include <string.h>
#include "src/dec/vp8_dec.h"
#include "src/dec/vp8i_dec.h"
#include "src/dec/webpi_dec.h"
#include "src/webp/decode.h"

#define EXPORT(name) __attribute__((export_name(#name)))
#define IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

/* Rows [y, y + count) of RGB, `count` × width × 3 bytes at `rows`. */
IMPORT(js_rows) extern void js_rows(int id, const uint8_t *rows, int y, int count);

#define RING_ROWS 48

typedef struct {
  WebPDecParams params;
  WebPDecBuffer output;
  VP8IoPutHook custom_put;
  uint8_t *ring;
  int stride;
  int id;
  int failed;
} Stream;

static int StreamPut(const VP8Io *io) {
  Stream *const s = (Stream *)((WebPDecParams *)io->opaque);
  /* EmitFancyRGB writes rows from mb_y - 1 (the row it left unfinished last time) unless mb_y is 0. */
  const int first = io->mb_y > 0 ? io->mb_y - 1 : 0;
  const int last_y = s->params.last_y;
  if (io->mb_h + 2 > RING_ROWS) {
    s->failed = 1;
    return 0;
  }
  /* Row r of the image is written at rgba + r * stride: point row `first` at the ring's start. */
  s->output.u.RGBA.rgba = s->ring - (size_t)first * (size_t)s->stride;
  if (!s->custom_put(io)) return 0;
  const int n = s->params.last_y - last_y;
  if (n > 0) js_rows(s->id, s->ring, first, n);
  return 1;
}

EXPORT(webp_alloc) void *webp_alloc(size_t size) { return malloc(size); }
EXPORT(webp_free) void webp_free(void *p) { free(p); }

/*
 * Decodes the lossy WebP `data` (a whole RIFF file, or a bare VP8 stream), handing its RGB rows to
 * js_rows(id, …) in order. Returns 0, a VP8StatusCode (> 0), -1 for a lossless image, -2 when the
 * size is not `width` × `height`, -3 when a batch of rows would not fit the ring.
 */
EXPORT(webp_decode) int webp_decode(const uint8_t *data, size_t size, int id, int width, int height) {
  WebPHeaderStructure headers;
  VP8Io io;
  Stream s;
  int status;
  memset(&s, 0, sizeof(s));
  headers.data = data;
  headers.data_size = size;
  headers.have_all_data = 1;
  status = WebPParseHeaders(&headers);
  if (status != VP8_STATUS_OK) return status;
  if (headers.is_lossless) return -1;

  WebPResetDecParams(&s.params);
  WebPInitDecBuffer(&s.output);
  s.params.output = &s.output;
  s.id = id;
  VP8InitIo(&io);
  io.data = headers.data + headers.offset;
  io.data_size = headers.data_size - headers.offset;
  WebPInitCustomIo(&s.params, &io);
  s.custom_put = io.put;
  io.put = StreamPut;

  VP8Decoder *const dec = VP8New();
  if (dec == NULL) return VP8_STATUS_OUT_OF_MEMORY;
  dec->alpha_data_ = NULL; /* see above: alpha is not needed */
  dec->alpha_data_size_ = 0;
  if (!VP8GetHeaders(dec, &io)) {
    status = dec->status_;
  } else if (io.width != width || io.height != height) {
    status = -2;
  } else {
    s.stride = io.width * 3;
    s.ring = (uint8_t *)malloc((size_t)s.stride * RING_ROWS);
    if (s.ring == NULL) {
      status = VP8_STATUS_OUT_OF_MEMORY;
    } else {
      s.output.colorspace = MODE_RGB;
      s.output.width = io.width;
      s.output.height = io.height;
      s.output.is_external_memory = 1;
      s.output.u.RGBA.rgba = s.ring;
      s.output.u.RGBA.stride = s.stride;
      s.output.u.RGBA.size = (size_t)s.stride * RING_ROWS;
      dec->mt_method_ = 0;
      VP8InitDithering(NULL, dec);
      status = VP8Decode(dec, &io) ? VP8_STATUS_OK : dec->status_;
      if (s.failed) status = -3;
    }
  }
  VP8Delete(dec);
  free(s.ring);
  return status;
}
