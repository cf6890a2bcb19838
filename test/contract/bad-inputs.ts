import { describe, expect, it } from 'vitest';

/**
 * The API's bad-input matrix, one contract for every runtime (Node app, workerd, …): each case
 * must give a clear 4xx JSON error with a code, never a path or stack, and the next request works.
 * Runtime-neutral: no node:* imports (it runs inside workerd too).
 */
export interface BadInputTarget {
  /** Sends a request to the app under test. */
  request(url: string, init?: RequestInit): Promise<Response> | Response;
  /** A valid JPEG and PNG image (bytes). */
  jpeg: () => Uint8Array;
  png: () => Uint8Array;
  /** A request that must succeed after each bad one. */
  ok: () => Promise<Response> | Response;
  /** Extra runtime-specific cases. */
  extra?: BadInputCase[];
}

export type BadInputCase = [name: string, send: () => Promise<Response> | Response, status: number, code: string];

/** A PNG header claiming 100000×100000 pixels (a decompression bomb), with a valid IHDR CRC. */
export function bombPng(): Uint8Array {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  const ihdr = [0, 0, 0, 13, 73, 72, 68, 82, 0, 1, 134, 160, 0, 1, 134, 160, 8, 2, 0, 0, 0];
  let c = 0xffffffff;
  for (const b of ihdr.slice(4)) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  c = (c ^ 0xffffffff) >>> 0;
  return new Uint8Array([...sig, ...ihdr, c >>> 24, (c >>> 16) & 255, (c >>> 8) & 255, c & 255, 0, 0, 0, 0, 73, 68, 65, 84]);
}

export const formWith = (fields: Record<string, string | Blob | (string | Blob)[]>) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) for (const x of Array.isArray(v) ? v : [v]) f.append(k, x);
  return f;
};

export function badInputCases(t: BadInputTarget): BadInputCase[] {
  const post = (url: string, body: BodyInit | Uint8Array | null, type?: string) =>
    t.request(url, { method: 'POST', body: body as BodyInit, headers: type ? { 'content-type': type } : {} });
  const blob = (b: Uint8Array) => new Blob([b as Uint8Array<ArrayBuffer>]);
  const tooManyLabels = Array.from({ length: 10_000 }, (_, i) => `l${i}`).join(',');
  return [
    ['0-byte body', () => post('/v1/classify?labels=a,b', new Uint8Array(0), 'image/jpeg'), 400, 'BAD_INPUT'],
    ['random bytes as JPEG', () => post('/v1/classify?labels=a,b', new Uint8Array(2000).map((_, i) => (i * 7919) & 255), 'image/jpeg'), 415, 'UNSUPPORTED_IMAGE'],
    ['corrupt JPEG (valid header, garbage data)', () => post('/v1/classify?labels=a,b', new Uint8Array([...t.jpeg().slice(0, 600), ...new Uint8Array(3000).fill(0x55)]), 'image/jpeg'), 400, 'CORRUPT_IMAGE'],
    ['truncated JPEG', () => post('/v1/classify?labels=a,b', t.jpeg().slice(0, 300), 'image/jpeg'), 400, 'CORRUPT_IMAGE'],
    ['truncated PNG', () => post('/v1/classify?labels=a,b', t.png().slice(0, 60), 'image/png'), 400, 'CORRUPT_IMAGE'],
    ['decompression-bomb PNG header (100000×100000)', () => post('/v1/classify?labels=a,b', bombPng(), 'image/png'), 413, 'IMAGE_TOO_LARGE'],
    ['wrong content type', () => post('/v1/classify?labels=a,b', t.jpeg(), 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['no content type', () => post('/v1/classify?labels=a,b', t.jpeg()), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['GIF bytes', () => post('/v1/classify?labels=a,b', new TextEncoder().encode('GIF89a\x01\x00\x01\x00'), 'image/gif'), 415, 'UNSUPPORTED_IMAGE'],
    ['malformed JSON', () => post('/v1/embed/text', '{"texts": [', 'application/json'), 400, 'BAD_INPUT'],
    ['texts not an array', () => post('/v1/embed/text', JSON.stringify({ texts: 'a cat' }), 'application/json'), 400, 'BAD_INPUT'],
    ['empty texts', () => post('/v1/embed/text', JSON.stringify({ texts: [] }), 'application/json'), 400, 'BAD_INPUT'],
    ['embed/text as form data', () => post('/v1/embed/text', 'texts=a', 'application/x-www-form-urlencoded'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['100 kB text', () => post('/v1/embed/text', JSON.stringify({ texts: ['x'.repeat(100_000)] }), 'application/json'), 400, 'BAD_INPUT'],
    ['empty labels', () => post('/v1/classify?labels=', t.jpeg(), 'image/jpeg'), 400, 'BAD_INPUT'],
    ['only commas as labels', () => post('/v1/classify?labels=,,,', t.jpeg(), 'image/jpeg'), 400, 'BAD_INPUT'],
    ['10,000 labels', () => post('/v1/classify', formWith({ image: blob(t.jpeg()), labels: tooManyLabels })), 400, 'TOO_MANY_LABELS'],
    ['100 kB label', () => post('/v1/classify', formWith({ image: blob(t.jpeg()), labels: ['cat', 'y'.repeat(100_000)] })), 400, 'BAD_INPUT'],
    ['duplicate labels', () => post('/v1/classify?labels=cat&labels=Cat', t.jpeg(), 'image/jpeg'), 400, 'BAD_INPUT'],
    ['unknown label set', () => post('/v1/classify?labelSet=no-such-set', t.jpeg(), 'image/jpeg'), 404, 'UNKNOWN_LABEL_SET'],
    ['label set name with a path', () => post('/v1/classify?labelSet=../../etc/passwd', t.jpeg(), 'image/jpeg'), 400, 'BAD_INPUT'],
    ['labels and labelSet together', () => post('/v1/classify?labels=a&labelSet=cifar10', t.jpeg(), 'image/jpeg'), 400, 'BAD_INPUT'],
    ['neither labels nor labelSet', () => post('/v1/classify', t.jpeg(), 'image/jpeg'), 400, 'BAD_INPUT'],
    ['a label set re-read through too many templates (prompt limit)', () => post('/v1/classify?labelSet=imagenet&templates=a%20{}&templates=the%20{}&templates=one%20{}', t.jpeg(), 'image/jpeg'), 400, 'TOO_MANY_LABELS'],
    ['topK=0', () => post('/v1/classify?labels=a,b&topK=0', t.jpeg(), 'image/jpeg'), 400, 'BAD_INPUT'],
    ['topK not a number', () => post('/v1/classify?labels=a,b&topK=ten', t.jpeg(), 'image/jpeg'), 400, 'BAD_INPUT'],
    ['template without {}', () => post('/v1/classify?labels=a,b&templates=a%20photo', t.jpeg(), 'image/jpeg'), 400, 'BAD_INPUT'],
    ['multipart without image field', () => post('/v1/classify', formWith({ labels: 'a,b' })), 400, 'BAD_INPUT'],
    ['multipart image field as text', () => post('/v1/classify', formWith({ image: 'not a file', labels: 'a,b' })), 400, 'BAD_INPUT'],
    ['multipart with an empty file', () => post('/v1/classify', formWith({ image: new Blob([]), labels: 'a,b' })), 400, 'BAD_INPUT'],
    ['multipart with 600 parts (cap 512)', () => post('/v1/classify', formWith({ image: blob(t.jpeg()), labelSet: 'tiny-clip-shapes', x: Array.from({ length: 598 }, () => '') })), 413, 'PAYLOAD_TOO_LARGE'],
    ['multipart with two image files', () => post('/v1/classify', formWith({ image: [blob(t.jpeg()), blob(t.jpeg())], labelSet: 'tiny-clip-shapes' })), 400, 'BAD_INPUT'],
    ['multipart text field over 256 KiB', () => post('/v1/classify', formWith({ image: blob(t.jpeg()), labels: 'a,'.repeat(140_000) })), 400, 'BAD_INPUT'],
    ['broken multipart body', () => post('/v1/classify', '--x\r\nContent-Disposition: form-data; name="image"\r\n\r\nabc', 'multipart/form-data; boundary=y'), 400, 'BAD_INPUT'],
    ['body over the 10 MB limit', () => post('/v1/classify?labels=a,b', new Uint8Array(10 * 1024 * 1024 + 1), 'image/jpeg'), 413, 'PAYLOAD_TOO_LARGE'],
    ['unknown route', () => t.request('/v1/nope'), 404, 'NOT_FOUND'],
    ...(t.extra ?? []),
  ];
}

/** Runs the matrix as one `it` per case. */
export function testBadInputs(title: string, target: () => BadInputTarget): void {
  describe(title, () => {
    const names = badInputCases({ request: () => new Response(), jpeg: () => new Uint8Array(), png: () => new Uint8Array(), ok: () => new Response() });
    // Cases are built lazily so that fixtures loaded in beforeAll are there when they run.
    const extras = (): BadInputCase[] => target().extra ?? [];
    it.each(names.map((c, i) => [c[0], c[2], c[3], i] as const))('%s → %i %s', async (_, status, code, i) => {
      const t = target();
      const [, send] = badInputCases(t)[i]!;
      const r = await send();
      expect(r.status).toBe(status);
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(code);
      expect(body.error.message.length).toBeGreaterThan(5);
      expect(body.error.message).not.toMatch(/\/work\/|\/home\/|node_modules|at .*\(.*:\d+:\d+\)/);
      expect((await t.ok()).status).toBe(200);
    });
    it('runtime-specific cases', async () => {
      for (const [name, send, status, code] of extras()) {
        const r = await send();
        expect(r.status, name).toBe(status);
        expect(((await r.json()) as { error: { code: string } }).error.code, name).toBe(code);
        expect((await target().ok()).status, name).toBe(200);
      }
    });
  });
}
