// The text Worker down, throwing, hanging or serving another model, in workerd. Throwing is the real
// text Worker pointed at a folder R2 lacks (TEXT_BROKEN); hanging is a binding whose call never
// settles (no real Worker can be told to hang); the mismatch is the real text Worker asked for
// another text encoder. Cached labels keep answering; uncached ones get 503 TEXT_ENCODER_DOWN with
// Retry-After, and no admission is left held.
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { TextService } from '../../../src/core/remote-text.ts';
import type { WorkersEnv } from '../../../src/runtime/workers/bindings.ts';
import { createWorkersApp } from '../../../src/runtime/workers/app.ts';
import { envWith, populate, repoFile } from './helpers.ts';

const answers = inject('nodeAnswers');
let JPEG: Uint8Array;
beforeAll(async () => {
  await populate();
  JPEG = await repoFile(answers.images.find((i) => i.file.endsWith('.jpg'))!.file);
});

const CACHED = 'orange%20ring,teal%20cross';
const UNCACHED = 'pink%20diamond,red%20star';
const hanging: TextService = { embedTexts: () => new Promise(() => {}) };
const appWith = (TEXT: TextService, vars: Parameters<typeof envWith>[0] = {}) =>
  createWorkersApp(envWith({ CLIP_EDGE_MAX_IN_FLIGHT: '2', CLIP_EDGE_TEXT_TIMEOUT_MS: '400', ...vars }, { TEXT } as Partial<WorkersEnv>));
const classify = (app: ReturnType<typeof appWith>, labels: string) =>
  Promise.resolve(app.request(`/v1/classify?labels=${labels}&topK=1`, { method: 'POST', body: JPEG as BodyInit, headers: { 'content-type': 'image/jpeg' } }));

async function expectDown(r: Response): Promise<void> {
  expect(r.status).toBe(503);
  expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  const body = (await r.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe('TEXT_ENCODER_DOWN');
  expect(body.error.message).toMatch(/text encoder .*cached still work/);
}

/** Two cached requests at once (the in-flight limit is 2), then the gauge: nothing left held. */
async function expectFullCapacity(app: ReturnType<typeof appWith>): Promise<void> {
  const rs = await Promise.all([classify(app, CACHED), classify(app, CACHED)]);
  expect(rs.map((r) => r.status)).toEqual([200, 200]);
  const g = (await (await app.request('/v1/load')).json()) as { inFlight: number; admitted: number; released: number };
  expect(g.inFlight).toBe(0);
  expect(g.released).toBe(g.admitted);
}

describe('text Worker faults (workerd)', () => {
  beforeAll(async () => {
    // Cache CACHED's class matrix in KV through the working text Worker.
    expect((await classify(appWith(env.TEXT), CACHED)).status).toBe(200);
  });

  it('throwing (the real text Worker, its model missing): uncached labels 503 with Retry-After, cached 200, full capacity after', async () => {
    const app = appWith(env.TEXT_BROKEN);
    await expectDown(await classify(app, UNCACHED));
    await expectDown(await Promise.resolve(app.request('/v1/embed/text', { method: 'POST', body: JSON.stringify({ texts: ['a pink diamond'] }), headers: { 'content-type': 'application/json' } })));
    expect((await classify(app, CACHED)).status).toBe(200);
    await expectFullCapacity(app);
  });

  it('hanging: uncached labels 503 after CLIP_EDGE_TEXT_TIMEOUT_MS, cached 200, full capacity after', async () => {
    const app = appWith(hanging);
    const [a, b] = await Promise.all([classify(app, UNCACHED), classify(app, UNCACHED)]);
    await expectDown(a);
    await expectDown(b);
    expect((await classify(app, CACHED)).status).toBe(200);
    await expectFullCapacity(app);
  });

  it('another text encoder on the other side: refused with a clear error (500 MODEL_INVALID), cached labels still 200', async () => {
    const logged: unknown[] = [];
    const orig = console.error;
    console.error = (...a: unknown[]) => void logged.push(a);
    try {
      const app = appWith(env.TEXT, { CLIP_EDGE_TEXT_VARIANT: 'fp32' });
      const r = await classify(app, UNCACHED);
      expect(r.status).toBe(500);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('MODEL_INVALID');
      expect(String(logged.flat().map((x) => (x instanceof Error ? x.message : x)).join(' '))).toMatch(/text encoder serves .*same model folder/);
      expect((await classify(app, CACHED)).status).toBe(200);
    } finally {
      console.error = orig;
    }
  });
});
