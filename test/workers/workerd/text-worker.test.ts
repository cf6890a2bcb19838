// Both Workers in workerd: the vision Worker's app with the TEXT service binding to the real text
// Worker (wrangler.text.toml, bundled and run as its own Worker by test/workers/vitest.config.ts),
// local R2 and KV. Node's answers (node-answers.ts) come from the same folder on onnxruntime-web.
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { TextService } from '../../../src/core/remote-text.ts';
import { createWorkersApp } from '../../../src/runtime/workers/app.ts';
import worker from '../../../src/runtime/workers/worker.ts';
import { TEXT_COMPARE } from '../fixtures.ts';
import { VectorizeStandIn } from '../vectorize-stand-in.ts';
import { envWith, populate, repoFile } from './helpers.ts';

type Json = Record<string, unknown>;
const answers = inject('nodeAnswers');
const text = env.TEXT as TextService & { info(): Promise<{ manifestSha256: string; calls: number; texts: number }> };
const LABELS = TEXT_COMPARE.labels.map(encodeURIComponent).join(',');

beforeAll(() => populate());

const cosine = (a: readonly number[], b: readonly number[]) => {
  let d = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => ((d += x * b[i]!), (na += x * x), (nb += b[i]! * b[i]!)));
  return d / Math.sqrt(na * nb);
};
const post = (app: { request: (u: string, i: RequestInit) => Response | Promise<Response> }, url: string, body: BodyInit, type: string) =>
  Promise.resolve(app.request(url, { method: 'POST', body, headers: { 'content-type': type } }));

describe('the vision Worker with the text Worker behind a service binding', () => {
  it('inline labels no cache holds: same top-1 and scores within 1e-4 of Node; again from KV with no call to the text Worker', async () => {
    const before = await text.info();
    for (const node of answers.text.classify) {
      const image = await repoFile(node.file);
      const r = await post(createWorkersApp(envWith({}, { TEXT: env.TEXT })), `/v1/classify?labels=${LABELS}&topK=5`, image as BodyInit, 'image/jpeg');
      expect(r.status).toBe(200);
      const body = (await r.json()) as { results: { label: string; score: number }[]; classes: { source: string }; variant: { text?: string } };
      expect(body.variant.text).toBe(answers.text.variant);
      expect(body.results[0]!.label).toBe(node.results[0]!.label);
      for (const n of node.results) expect(Math.abs(body.results.find((w) => w.label === n.label)!.score - n.score)).toBeLessThan(1e-4);
    }
    const afterFirst = await text.info();
    // One call for the 20 prompts (5 labels × 4 templates), the first time only: later apps (new
    // isolates' memory) find the label set, and its rows, in KV.
    expect(afterFirst.calls - before.calls).toBe(1);
    expect(afterFirst.texts - before.texts).toBe(20);
    const again = await post(createWorkersApp(envWith({}, { TEXT: env.TEXT })), `/v1/classify?labels=${LABELS}`, (await repoFile(TEXT_COMPARE.images[0])) as BodyInit, 'image/jpeg');
    expect(again.status).toBe(200);
    expect(((await again.json()) as { classes: { source: string } }).classes.source).toBe('prompt-cache');
    expect((await text.info()).calls).toBe(afterFirst.calls);
  });

  it('/v1/embed/text: cosine ≥ 0.99999 to Node; the rows are cached per prompt in KV (a new isolate asks nothing)', async () => {
    const r = await post(createWorkersApp(envWith({}, { TEXT: env.TEXT })), '/v1/embed/text', JSON.stringify({ texts: [TEXT_COMPARE.query] }), 'application/json');
    expect(r.status).toBe(200);
    const body = (await r.json()) as { embeddings: number[][]; variant: string };
    expect(cosine(body.embeddings[0]!, answers.text.queryEmbedding)).toBeGreaterThanOrEqual(0.99999);
    const calls = (await text.info()).calls;
    const again = (await (await post(createWorkersApp(envWith({}, { TEXT: env.TEXT })), '/v1/embed/text', JSON.stringify({ texts: [TEXT_COMPARE.query] }), 'application/json')).json()) as { embeddings: number[][] };
    expect(again.embeddings[0]).toEqual(body.embeddings[0]);
    expect((await text.info()).calls).toBe(calls);
  });

  it('/v1/search {text} against the Vectorize stand-in: the same top 10 as Node’s memory index over the same images', async () => {
    const vectorize = new VectorizeStandIn(answers.images[0]!.embedding.length);
    const app = createWorkersApp(envWith({}, { TEXT: env.TEXT, VECTORIZE: vectorize as never }));
    for (const file of answers.text.searchFiles) {
      const r = await post(app, `/v1/index?id=${encodeURIComponent(file)}`, (await repoFile(file)) as BodyInit, 'image/jpeg');
      expect(r.status, file).toBe(200);
    }
    const r = await post(app, '/v1/search?topK=10', JSON.stringify({ text: TEXT_COMPARE.query }), 'application/json');
    expect(r.status).toBe(200);
    const body = (await r.json()) as { matches: { id: string }[] };
    expect(body.matches.map((m) => m.id)).toEqual(answers.text.searchTop10);
  });

  it('the deployed entry (worker.ts) with wrangler.toml’s bindings answers inline labels through the text Worker', async () => {
    const r = await worker.fetch(new Request(`https://clip.example/v1/classify?labels=${LABELS}&topK=1`, { method: 'POST', body: (await repoFile(TEXT_COMPARE.images[1])) as BodyInit, headers: { 'content-type': 'image/jpeg' } }), env, {});
    expect(r.status).toBe(200);
    expect(((await r.json()) as { results: Json[] }).results[0]).toMatchObject({ label: answers.text.classify[1]!.results[0]!.label });
  });
});
