import { beforeAll, inject } from 'vitest';
import { testBadInputs } from '../../contract/bad-inputs.ts';
import { createWorkersApp } from '../../../src/runtime/workers/app.ts';
import { envWith, populate, repoFile } from './helpers.ts';

// The bad-input matrix of test/http/app.test.ts, against the Worker app inside workerd (text tower
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

/** A JPEG header claiming `w`×`h` pixels (SOF0 baseline or SOF2 progressive, 4:2:0), with a dummy scan: refused before decoding. */
function jpegHeader(w: number, h: number, sof = 0xc0): Uint8Array {
  const frame = [0xff, sof, 0, 17, 8, h >> 8, h & 255, w >> 8, w & 255, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  return new Uint8Array([0xff, 0xd8, ...frame, 0xff, 0xda, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0, ...new Array(64).fill(0x55), 0xff, 0xd9]);
}

/** A PNG signature + IHDR (8-bit RGBA) claiming `w`×`h`: PNG has no scaled path, so the decode budget applies whole. */
function pngHeader(w: number, h: number): Uint8Array {
  const body = new Uint8Array([0x49, 0x48, 0x44, 0x52, w >>> 24, (w >> 16) & 255, (w >> 8) & 255, w & 255, h >>> 24, (h >> 16) & 255, (h >> 8) & 255, h & 255, 8, 6, 0, 0, 0]);
  let c = 0xffffffff;
  for (const b of body) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  c = (c ^ 0xffffffff) >>> 0;
  return new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, ...body, c >>> 24, (c >> 16) & 255, (c >> 8) & 255, c & 255]);
}

testBadInputs('bad inputs inside workerd: each a clear 4xx JSON error, and the next request still works', () => ({
  request: (url, init) => app.request(url, init),
  jpeg: () => JPEG,
  png: () => PNG,
  ok: () => post('/v1/classify?labelSet=tiny-clip-shapes', JPEG, 'image/jpeg'),
  extra: [
    ['50 MP JPEG header (over the Workers pixel limit)', () => post('/v1/classify?labelSet=cifar10', jpegHeader(10_000, 5000), 'image/jpeg'), 413, 'IMAGE_TOO_LARGE'],
    // 24 MP progressive: its DCT coefficients alone (~72 MB) exceed the 48 MB decode budget, scaled or not.
    ['24 MP progressive JPEG header (over the decode budget even scaled)', () => post('/v1/classify?labelSet=cifar10', jpegHeader(6000, 4000, 0xc2), 'image/jpeg'), 413, 'IMAGE_TOO_LARGE'],
    ['12 MP PNG header (no scaled path for PNG: over the decode budget)', () => post('/v1/classify?labelSet=cifar10', pngHeader(4000, 3000), 'image/png'), 413, 'IMAGE_TOO_LARGE'],
  ],
}));
