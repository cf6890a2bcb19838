import { SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { populate, repoFile } from './helpers.ts';

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
});
