import { SELF } from 'cloudflare:test';
import worker from '../../../src/runtime/workers/worker.ts';
import type { ClipEdgeErrorCode } from '../../../src/core/errors.ts';
import { STATUS_OF } from '../../../src/http/errors.ts';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { envWith, populate, repoFile } from './helpers.ts';

// The deployed entry (wrangler.toml `main`) with wrangler.toml's bindings and vars, called as a service.
const answers = inject('nodeAnswers');
beforeAll(() => populate());

describe('the Worker entry (src/runtime/workers/worker.ts)', () => {
  it('answers /healthz and classifies with a label set from KV', async () => {
    expect((await SELF.fetch('https://clip.example/healthz')).status).toBe(200);
    const ref = answers.images[0]!;
    const r = await SELF.fetch(`https://clip.example/v1/classify?labelSet=${answers.labelSet}&topK=1`, {
      method: 'POST',
      body: (await repoFile(ref.file)) as Uint8Array<ArrayBuffer>,
      headers: { 'content-type': 'image/jpeg' },
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { results: { label: string }[]; classes: { source: string } };
    expect(body.results[0]!.label).toBe(ref.results[0]!.label);
  });

  it('a misconfigured var is a 500 naming the variable (the client did nothing wrong)', async () => {
    const r = await worker.fetch(new Request('https://clip.example/v1/models'), envWith({ CLIP_EDGE_TEXT: 'maybe' }), {});
    expect(r.status).toBe(500);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('CONFIG_INVALID');
    // A code of the one table (ClipEdgeErrorCode → STATUS_OF), not one the entry made up.
    expect(STATUS_OF[body.error.code as ClipEdgeErrorCode]).toBe(500);
    expect(body.error.message).toMatch(/CLIP_EDGE_TEXT/);
  });
});
