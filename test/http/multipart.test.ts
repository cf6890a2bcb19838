import { describe, expect, it } from 'vitest';
import { ClipEdgeError } from '../../src/core/errors.ts';
import { DEFAULT_MAX_FIELD_BYTES, DEFAULT_MAX_MULTIPART_PARTS, readImageForm } from '../../src/http/multipart.ts';

// The multipart parser's bound, without a clock: it parses a body as its chunks arrive and stops at
// the part cap, so what it does for one request is bounded by the cap (and one socket chunk), never
// by the body. A parser that reads the whole body and then parses it in one go (Request.formData(),
// which held the event loop ~6 s for 140,000 parts) pulls every chunk first and fails these.

const CHUNK = 64 * 1024;
const LIMITS = { maxParts: DEFAULT_MAX_MULTIPART_PARTS, maxBytes: 10 * 1024 * 1024, maxFieldBytes: DEFAULT_MAX_FIELD_BYTES };
const FLOOD_PART = '--flood\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n\r\n\r\n';

/** `bytes` served in chunks of 64 KiB, one per pull, counting the pulls. */
function countingBody(bytes: Uint8Array) {
  const seen = { pulled: 0, chunks: Math.ceil(bytes.length / CHUNK) };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(ctrl) {
        if (seen.pulled === seen.chunks) return ctrl.close();
        ctrl.enqueue(bytes.slice(seen.pulled * CHUNK, ++seen.pulled * CHUNK));
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, seen };
}

const post = (body: ReadableStream<Uint8Array>, boundary: string) =>
  new Request('http://x/v1/classify', { method: 'POST', body, duplex: 'half', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } } as RequestInit);

describe('readImageForm bounds its work by the part cap, not by the body', () => {
  it("a 140,000-part body (the flood) is refused at the cap after reading only the chunks up to the cap's part", async () => {
    const body = new TextEncoder().encode(`${FLOOD_PART.repeat(140_000)}--flood--\r\n`);
    const { stream, seen } = countingBody(body);
    expect(seen.chunks).toBeGreaterThan(140); // 9.5 MB
    const err = await readImageForm(post(stream, 'flood'), LIMITS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClipEdgeError);
    expect((err as ClipEdgeError).code).toBe('PAYLOAD_TOO_LARGE');
    expect((err as ClipEdgeError).message).toMatch(/more than 512 parts/);
    // Part 513 starts within this many chunks; the parser may have asked for one more.
    const chunksToCap = Math.ceil(((DEFAULT_MAX_MULTIPART_PARTS + 1) * FLOOD_PART.length) / CHUNK);
    expect(seen.pulled).toBeLessThanOrEqual(chunksToCap + 1);
  });

  it('a body within the cap is parsed whole, every repeated field kept, over many chunks', async () => {
    const jpeg = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
    const head = '--b\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n';
    const labels = Array.from({ length: DEFAULT_MAX_MULTIPART_PARTS - 1 }, (_, i) => `--b\r\nContent-Disposition: form-data; name="labels"\r\n\r\nlabel ${i}\r\n`);
    const body = new Uint8Array(Buffer.concat([Buffer.from(head), jpeg, Buffer.from(`\r\n${labels.join('')}--b--\r\n`)]));
    const { stream, seen } = countingBody(body);
    const form = await readImageForm(post(stream, 'b'), LIMITS);
    expect(seen.pulled).toBe(seen.chunks);
    expect(form.image).toEqual(jpeg);
    expect(form.fields.get('labels')).toEqual(labels.map((_, i) => `label ${i}`));
  });
});
