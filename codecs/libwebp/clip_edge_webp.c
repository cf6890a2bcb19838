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
 * One decode at a time per instance (the caller never shares an instance between decodes), in
 * steps so that JavaScript can check its deadline and let the event loop run between them:
 * webp_begin, then webp_rows until it returns 0 (all rows handed out) or an error, then webp_end.
 * The steps are ParseFrame's own loop (src/dec/vp8_dec.c), cut every `mb_rows` macroblock rows:
 * the same calls in the same order, so the same pixels as VP8Decode.
 */
static struct {
  VP8Io io;
  Stream s;
  VP8Decoder *dec;
  int critical; /* VP8EnterCritical succeeded: VP8ExitCritical is owed */
} job;

static void EndJob(void) {
  if (job.dec != NULL) {
    if (job.critical) VP8ExitCritical(job.dec, &job.io);
    VP8Delete(job.dec);
  }
  free(job.s.ring);
  memset(&job, 0, sizeof(job));
}

/*
 * Starts decoding the lossy WebP `data` (a whole RIFF file, or a bare VP8 stream), whose RGB rows go
 * to js_rows(id, …) in order as webp_rows runs. Returns 0, a VP8StatusCode (> 0), -1 for a lossless
 * image, -2 when the size is not `width` × `height`.
 */
EXPORT(webp_begin) int webp_begin(const uint8_t *data, size_t size, int id, int width, int height) {
  WebPHeaderStructure headers;
  int status;
  EndJob();
  headers.data = data;
  headers.data_size = size;
  headers.have_all_data = 1;
  status = WebPParseHeaders(&headers);
  if (status != VP8_STATUS_OK) return status;
  if (headers.is_lossless) return -1;

  WebPResetDecParams(&job.s.params);
  WebPInitDecBuffer(&job.s.output);
  job.s.params.output = &job.s.output;
  job.s.id = id;
  VP8InitIo(&job.io);
  job.io.data = headers.data + headers.offset;
  job.io.data_size = headers.data_size - headers.offset;
  WebPInitCustomIo(&job.s.params, &job.io);
  job.s.custom_put = job.io.put;
  job.io.put = StreamPut;

  job.dec = VP8New();
  if (job.dec == NULL) return VP8_STATUS_OUT_OF_MEMORY;
  job.dec->alpha_data_ = NULL; /* see above: alpha is not needed */
  job.dec->alpha_data_size_ = 0;
  if (!VP8GetHeaders(job.dec, &job.io)) {
    status = job.dec->status_;
  } else if (job.io.width != width || job.io.height != height) {
    status = -2;
  } else {
    job.s.stride = job.io.width * 3;
    job.s.ring = (uint8_t *)malloc((size_t)job.s.stride * RING_ROWS);
    if (job.s.ring == NULL) {
      status = VP8_STATUS_OUT_OF_MEMORY;
    } else {
      job.s.output.colorspace = MODE_RGB;
      job.s.output.width = job.io.width;
      job.s.output.height = job.io.height;
      job.s.output.is_external_memory = 1;
      job.s.output.u.RGBA.rgba = job.s.ring;
      job.s.output.u.RGBA.stride = job.s.stride;
      job.s.output.u.RGBA.size = (size_t)job.s.stride * RING_ROWS;
      job.dec->mt_method_ = 0;
      VP8InitDithering(NULL, job.dec);
      /* VP8Decode's set-up: io->setup, then the frame's memory. */
      status = VP8EnterCritical(job.dec, &job.io);
      if (status == VP8_STATUS_OK) {
        job.critical = 1;
        if (!VP8InitFrame(job.dec, &job.io)) status = job.dec->status_;
        else job.dec->mb_y_ = 0;
      }
    }
  }
  if (status != VP8_STATUS_OK) EndJob();
  return status;
}

/*
 * Decodes up to `mb_rows` more macroblock rows (16 pixel rows each), handing their RGB rows to
 * js_rows. Returns 0 when the image is complete, -4 when rows remain, else a VP8StatusCode (> 0)
 * or -3 (a batch of rows would not fit the ring); on an error the decode is over (webp_end).
 */
EXPORT(webp_rows) int webp_rows(int mb_rows) {
  VP8Decoder *const dec = job.dec;
  if (dec == NULL) return VP8_STATUS_INVALID_PARAM;
  for (int n = 0; n < mb_rows && dec->mb_y_ < dec->br_mb_y_; ++n, ++dec->mb_y_) {
    /* ParseFrame's loop body. */
    VP8BitReader *const token_br = &dec->parts_[dec->mb_y_ & dec->num_parts_minus_one_];
    if (!VP8ParseIntraModeRow(&dec->br_, dec)) {
      VP8SetError(dec, VP8_STATUS_NOT_ENOUGH_DATA, "Premature end-of-partition0 encountered.");
      return dec->status_;
    }
    for (; dec->mb_x_ < dec->mb_w_; ++dec->mb_x_) {
      if (!VP8DecodeMB(dec, token_br)) {
        VP8SetError(dec, VP8_STATUS_NOT_ENOUGH_DATA, "Premature end-of-file encountered.");
        return dec->status_;
      }
    }
    VP8InitScanline(dec);
    if (!VP8ProcessRow(dec, &job.io)) return job.s.failed ? -3 : VP8_STATUS_USER_ABORT;
  }
  if (dec->mb_y_ < dec->br_mb_y_) return -4;
  job.critical = 0;
  return VP8ExitCritical(dec, &job.io) ? 0 : VP8_STATUS_USER_ABORT;
}

/* Frees what the decode held (call after webp_rows returned 0 or an error, or to abandon it). */
EXPORT(webp_end) void webp_end(void) { EndJob(); }
