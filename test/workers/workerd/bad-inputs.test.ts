import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createWorkersApp } from '../../../src/runtime/workers/create.ts';
import { envWith, populate, repoFile } from './helpers.ts';

// The bad-input matrix of test/app/app.test.ts, against the Worker app inside workerd (text tower
// on, so that every route behaves as on Node). Each case: a clear 4xx JSON error with a code,
// and the next request still works.

const answers = inject('nodeAnswers');
let JPEG: Uint8Array;
let PNG: Uint8Array;
const app = createWorkersApp(envWith({ CLIP_EDGE_TEXT: 'true' }));

beforeAll(async () => {
  await populate();
  JPEG = await repoFile(answers.images.find((i) => i.file.endsWith('.jpg'))!.file);
  PNG = await repoFile(answers.images.find((i) => i.file.endsWith('.png'))!.file);
});

const post = async (url: string, body: BodyInit | Uint8Array | null, type?: string): Promise<Response> =>
  app.request(url, { method: 'POST', body: body as BodyInit, headers: type ? { 'content-type': type } : {} });

const formWith = (fields: Record<string, string | Blob | string[]>) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) for (const x of Array.isArray(v) ? v : [v]) f.append(k, x);
  return f;
};

/** A PNG header claiming 100000×100000 pixels (a decompression bomb), with a valid IHDR CRC. */
function bombPng(): Uint8Array {
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

/** A JPEG header (SOF0) claiming 5000×4000 pixels: over the Workers default limit of 4 MP, refused before decoding. */
function bigJpegHeader(): Uint8Array {
  const sof = [0xff, 0xc0, 0, 17, 8, 4000 >> 8, 4000 & 255, 5000 >> 8, 5000 & 255, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  return new Uint8Array([0xff, 0xd8, ...sof, 0xff, 0xda, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0, ...new Array(64).fill(0x55), 0xff, 0xd9]);
}

const tooManyLabels = Array.from({ length: 10_000 }, (_, i) => `l${i}`).join(',');
const jpegBlob = () => new Blob([JPEG as Uint8Array<ArrayBuffer>]);

const badInputs: [string, () => Promise<Response> | Response, number, string][] = [
  ['0-byte body', () => post('/v1/classify?labels=a,b', new Uint8Array(0), 'image/jpeg'), 400, 'BAD_INPUT'],
  ['random bytes as JPEG', () => post('/v1/classify?labels=a,b', new Uint8Array(2000).map((_, i) => (i * 7919) & 255), 'image/jpeg'), 415, 'UNSUPPORTED_IMAGE'],
  ['corrupt JPEG (valid header, garbage data)', () => post('/v1/classify?labels=a,b', new Uint8Array([...JPEG.slice(0, 600), ...new Uint8Array(3000).fill(0x55)]), 'image/jpeg'), 400, 'CORRUPT_IMAGE'],
  ['truncated JPEG', () => post('/v1/classify?labels=a,b', JPEG.slice(0, 300), 'image/jpeg'), 400, 'CORRUPT_IMAGE'],
  ['truncated PNG', () => post('/v1/classify?labels=a,b', PNG.slice(0, 60), 'image/png'), 400, 'CORRUPT_IMAGE'],
  ['decompression-bomb PNG header (100000×100000)', () => post('/v1/classify?labels=a,b', bombPng(), 'image/png'), 413, 'IMAGE_TOO_LARGE'],
  ['20 MP JPEG header (over the Workers pixel limit)', () => post('/v1/classify?labelSet=cifar10', bigJpegHeader(), 'image/jpeg'), 413, 'IMAGE_TOO_LARGE'],
  ['wrong content type', () => post('/v1/classify?labels=a,b', JPEG, 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ['no content type', () => post('/v1/classify?labels=a,b', JPEG), 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ['GIF bytes', () => post('/v1/classify?labels=a,b', new TextEncoder().encode('GIF89a\x01\x00\x01\x00'), 'image/gif'), 415, 'UNSUPPORTED_IMAGE'],
  ['malformed JSON', () => post('/v1/embed/text', '{"texts": [', 'application/json'), 400, 'BAD_INPUT'],
  ['texts not an array', () => post('/v1/embed/text', JSON.stringify({ texts: 'a cat' }), 'application/json'), 400, 'BAD_INPUT'],
  ['empty texts', () => post('/v1/embed/text', JSON.stringify({ texts: [] }), 'application/json'), 400, 'BAD_INPUT'],
  ['embed/text as form data', () => post('/v1/embed/text', 'texts=a', 'application/x-www-form-urlencoded'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ['100 kB text', () => post('/v1/embed/text', JSON.stringify({ texts: ['x'.repeat(100_000)] }), 'application/json'), 400, 'BAD_INPUT'],
  ['empty labels', () => post('/v1/classify?labels=', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['only commas as labels', () => post('/v1/classify?labels=,,,', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['10,000 labels', () => post('/v1/classify', formWith({ image: jpegBlob(), labels: tooManyLabels })), 400, 'TOO_MANY_LABELS'],
  ['100 kB label', () => post('/v1/classify', formWith({ image: jpegBlob(), labels: ['cat', 'y'.repeat(100_000)] })), 400, 'BAD_INPUT'],
  ['duplicate labels', () => post('/v1/classify?labels=cat&labels=Cat', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['unknown label set', () => post('/v1/classify?labelSet=no-such-set', JPEG, 'image/jpeg'), 404, 'UNKNOWN_LABEL_SET'],
  ['label set name with a path', () => post('/v1/classify?labelSet=../../etc/passwd', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['labels and labelSet together', () => post('/v1/classify?labels=a&labelSet=cifar10', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['neither labels nor labelSet', () => post('/v1/classify', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['topK=0', () => post('/v1/classify?labels=a,b&topK=0', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['topK not a number', () => post('/v1/classify?labels=a,b&topK=ten', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['template without {}', () => post('/v1/classify?labels=a,b&templates=a%20photo', JPEG, 'image/jpeg'), 400, 'BAD_INPUT'],
  ['multipart without image field', () => post('/v1/classify', formWith({ labels: 'a,b' })), 400, 'BAD_INPUT'],
  ['multipart image field as text', () => post('/v1/classify', formWith({ image: 'not a file', labels: 'a,b' })), 400, 'BAD_INPUT'],
  ['multipart with an empty file', () => post('/v1/classify', formWith({ image: new Blob([]), labels: 'a,b' })), 400, 'BAD_INPUT'],
  ['broken multipart body', () => post('/v1/classify', '--x\r\nContent-Disposition: form-data; name="image"\r\n\r\nabc', 'multipart/form-data; boundary=y'), 400, 'BAD_INPUT'],
  ['body over the 10 MB limit', () => post('/v1/classify?labels=a,b', new Uint8Array(10 * 1024 * 1024 + 1), 'image/jpeg'), 413, 'PAYLOAD_TOO_LARGE'],
  ['unknown route', () => app.request('/v1/nope'), 404, 'NOT_FOUND'],
];

describe('bad inputs inside workerd: each a clear 4xx JSON error, and the next request still works', () => {
  it.each(badInputs.map(([name, send, status, code]) => [name, status, code, send] as const))('%s → %i %s', async (_, status, code, send) => {
    const r = await send();
    expect(r.status).toBe(status);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(5);
    expect(body.error.message).not.toMatch(/node_modules|at .*\(.*:\d+:\d+\)/);
    const ok = await post('/v1/classify?labelSet=tiny-clip-shapes', JPEG, 'image/jpeg');
    expect(ok.status).toBe(200);
  });
});
