import { beforeAll, inject } from 'vitest';
import { testBadInputs } from '../../contract/bad-inputs.ts';
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

/** A JPEG header (SOF0) claiming 5000×4000 pixels: over the Workers default limit of 4 MP, refused before decoding. */
function bigJpegHeader(): Uint8Array {
  const sof = [0xff, 0xc0, 0, 17, 8, 4000 >> 8, 4000 & 255, 5000 >> 8, 5000 & 255, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  return new Uint8Array([0xff, 0xd8, ...sof, 0xff, 0xda, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0, ...new Array(64).fill(0x55), 0xff, 0xd9]);
}

testBadInputs('bad inputs inside workerd: each a clear 4xx JSON error, and the next request still works', () => ({
  request: (url, init) => app.request(url, init),
  jpeg: () => JPEG,
  png: () => PNG,
  ok: () => post('/v1/classify?labelSet=tiny-clip-shapes', JPEG, 'image/jpeg'),
  extra: [['20 MP JPEG header (over the Workers pixel limit)', () => post('/v1/classify?labelSet=cifar10', bigJpegHeader(), 'image/jpeg'), 413, 'IMAGE_TOO_LARGE']],
}));
