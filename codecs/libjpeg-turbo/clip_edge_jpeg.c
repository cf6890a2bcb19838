/*
 * clip-edge's scanline interface to libjpeg-turbo, for WebAssembly (built by build.sh).
 *
 * Why not TurboJPEG's tjDecompress2 (what @cwasm/jpeg-turbo exports): it decodes the whole image into
 * one width × height × 3 buffer. Here the caller pulls a few rows at a time (jpeg_read_scanlines) and
 * resizes them as they come, so a 48 MP baseline JPEG needs a few of its rows in memory, not 144 MB;
 * and the compressed bytes are read from JavaScript in 64 KiB slices (js_read), not copied whole.
 *
 * libjpeg reports fatal errors through error_exit, which must not return: here it calls js_fail,
 * which throws a JavaScript exception through the wasm frames. The instance's stack pointer is then
 * left behind, so the caller drops the instance after a failure (a fresh one is cheap).
 *
 * The decode settings are libjpeg's defaults, as PIL's (and TurboJPEG's): islow IDCT, fancy
 * upsampling; output RGB (grey replicated, as PIL's convert("RGB") does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jpeglib.h"
#include "jerror.h"

#define EXPORT(name) __attribute__((export_name(#name)))
#define IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

/* Copies up to `max` more bytes of the file with this id into `buf`; 0 at its end. */
IMPORT(js_read) extern size_t js_read(int id, JOCTET *buf, size_t max);
/* Throws a JavaScript error; never returns. */
IMPORT(js_fail) extern void js_fail(int code, const char *message);

#define INPUT_CHUNK 65536

typedef struct {
  struct jpeg_decompress_struct cinfo; /* first, so that a j_decompress_ptr is a Decoder* */
  struct jpeg_error_mgr err;
  struct jpeg_source_mgr src;
  int id;
  JOCTET *input;
  JSAMPROW *rows;
  JSAMPLE *pixels;
  int capacity;
} Decoder;

static void error_exit(j_common_ptr cinfo) {
  char message[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, message);
  js_fail(cinfo->err->msg_code, message);
  abort();
}

/* Warnings (corrupt entropy data, premature end) are counted in err.num_warnings, not printed:
 * like PIL, the pixels libjpeg produced are kept. */
static void output_message(j_common_ptr cinfo) { (void)cinfo; }

static void init_source(j_decompress_ptr cinfo) { (void)cinfo; }
static void term_source(j_decompress_ptr cinfo) { (void)cinfo; }

/* As jpeg_mem_src's: at the end of the data, a warning and a fake EOI marker. */
static boolean fill_input_buffer(j_decompress_ptr cinfo) {
  Decoder *d = (Decoder *)cinfo;
  size_t n = js_read(d->id, d->input, INPUT_CHUNK);
  if (n == 0) {
    WARNMS(cinfo, JWRN_JPEG_EOF);
    d->input[0] = (JOCTET)0xFF;
    d->input[1] = (JOCTET)JPEG_EOI;
    n = 2;
  }
  cinfo->src->next_input_byte = d->input;
  cinfo->src->bytes_in_buffer = n;
  return TRUE;
}

static void skip_input_data(j_decompress_ptr cinfo, long num_bytes) {
  struct jpeg_source_mgr *src = cinfo->src;
  if (num_bytes <= 0) return;
  while (num_bytes > (long)src->bytes_in_buffer) {
    num_bytes -= (long)src->bytes_in_buffer;
    (void)(*src->fill_input_buffer)(cinfo);
  }
  src->next_input_byte += (size_t)num_bytes;
  src->bytes_in_buffer -= (size_t)num_bytes;
}

/* A decoder reading the file `id` through js_read; NULL when out of memory. */
EXPORT(decoder_create) Decoder *decoder_create(int id) {
  Decoder *d = calloc(1, sizeof(Decoder));
  if (!d) return NULL;
  d->input = malloc(INPUT_CHUNK);
  if (!d->input) {
    free(d);
    return NULL;
  }
  d->id = id;
  d->cinfo.err = jpeg_std_error(&d->err);
  d->err.error_exit = error_exit;
  d->err.output_message = output_message;
  jpeg_create_decompress(&d->cinfo);
  d->src.init_source = init_source;
  d->src.fill_input_buffer = fill_input_buffer;
  d->src.skip_input_data = skip_input_data;
  d->src.resync_to_restart = jpeg_resync_to_restart;
  d->src.term_source = term_source;
  d->src.bytes_in_buffer = 0;
  d->src.next_input_byte = NULL;
  d->cinfo.src = &d->src;
  return d;
}

/*
 * Reads the header and starts decompressing to RGB at scale 1/denom (1, 2, 4 or 8: libjpeg's reduced
 * IDCT), with room for `rows` output rows per decoder_read. A multi-scan (progressive) file is read
 * whole here, into libjpeg's coefficient arrays. Returns 0, or -1 when the row buffer cannot be had.
 */
EXPORT(decoder_start) int decoder_start(Decoder *d, int denom, int rows) {
  jpeg_read_header(&d->cinfo, TRUE);
  d->cinfo.out_color_space = JCS_RGB;
  d->cinfo.scale_num = 1;
  d->cinfo.scale_denom = (unsigned int)denom;
  jpeg_start_decompress(&d->cinfo);
  size_t stride = (size_t)d->cinfo.output_width * 3;
  d->pixels = malloc(stride * (size_t)rows);
  d->rows = malloc(sizeof(JSAMPROW) * (size_t)rows);
  if (!d->pixels || !d->rows) return -1;
  for (int i = 0; i < rows; i++) d->rows[i] = d->pixels + stride * (size_t)i;
  d->capacity = rows;
  return 0;
}

EXPORT(decoder_width) int decoder_width(Decoder *d) { return (int)d->cinfo.output_width; }
EXPORT(decoder_height) int decoder_height(Decoder *d) { return (int)d->cinfo.output_height; }
EXPORT(decoder_pixels) JSAMPLE *decoder_pixels(Decoder *d) { return d->pixels; }
EXPORT(decoder_warnings) long decoder_warnings(Decoder *d) { return d->err.num_warnings; }

/* Decodes the next rows into decoder_pixels (up to the capacity given to decoder_start); returns how many (0 at the end). */
EXPORT(decoder_read) int decoder_read(Decoder *d) {
  int n = 0;
  while (n < d->capacity && d->cinfo.output_scanline < d->cinfo.output_height) {
    n += (int)jpeg_read_scanlines(&d->cinfo, d->rows + n, (JDIMENSION)(d->capacity - n));
  }
  return n;
}

/* Skips the next `count` rows (libjpeg-turbo's jpeg_skip_scanlines); returns how many were skipped. */
EXPORT(decoder_skip) int decoder_skip(Decoder *d, int count) {
  return (int)jpeg_skip_scanlines(&d->cinfo, (JDIMENSION)count);
}

EXPORT(decoder_destroy) void decoder_destroy(Decoder *d) {
  if (!d) return;
  jpeg_destroy_decompress(&d->cinfo);
  free(d->input);
  free(d->rows);
  free(d->pixels);
  free(d);
}
