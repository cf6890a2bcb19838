import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClipApp } from '../../src/http/app.ts';
import { createMemoryIndex } from '../../src/search/drivers/memory.ts';
import { EVAL_DIR, type EvalSet, REPO_ROOT, sharedClip } from '../helpers/clip.ts';

// A user's generated client against a real server on 127.0.0.1: the kit's app mounted under /clip
// in an app of the user's own, its /clip/openapi.json turned into types by openapi-typescript,
// strict-type-checked with a client module (openapi-client/calls.ts) that calls operations by
// operationId through openapi-fetch, at the base URL the document's relative server names.

const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
const imageOf = (label: string) => new Uint8Array(readFileSync(path.join(EVAL_DIR, evalSet.images.find((i) => i.label === label && i.file.endsWith('.jpg'))!.file)));
// Inside the repository (git-ignored) so the client module resolves openapi-fetch from node_modules.
const work = path.join(REPO_ROOT, '.cache', `openapi-client-${process.pid}`);

/** What calls.ts returns, as this test uses it (calls.ts itself is typed by the generated api.ts). */
interface Client {
  classify(image: Uint8Array, query: { labels: string[]; topK: number }): Promise<{ results: { label: string }[] }>;
  embedImage(image: Uint8Array): Promise<{ dim: number; embedding: number[] }>;
  embedText(texts: string[]): Promise<{ embeddings: number[][] }>;
  indexImages(image: Uint8Array, query: { id: string; metadata: string }): Promise<unknown>;
  search(body: { text: string; topK: number; includeMetadata: boolean }): Promise<{ matches: { id: string; metadata?: Record<string, unknown> }[] }>;
}

let server: ServerType;
let docUrl: string;
let doc: { servers: { url: string }[]; paths: Record<string, Record<string, { operationId?: string }>> };
beforeAll(async () => {
  const clip = await sharedClip();
  const kit = createClipApp({ clip, index: await createMemoryIndex({ model: clip.info.id, dim: clip.info.embedDim, fields: { label: 'string' } }) });
  const own = new Hono().get('/', (c) => c.text('my app')).route('/clip', kit);
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: own.fetch, hostname: '127.0.0.1', port: 0 }, (info) => resolve(info.port));
  });
  docUrl = `http://127.0.0.1:${port}/clip/openapi.json`;
  doc = (await (await fetch(docUrl)).json()) as typeof doc;
  mkdirSync(work, { recursive: true });
  writeFileSync(path.join(work, 'api.ts'), astToString(await openapiTS(doc as never)));
  copyFileSync(path.join(REPO_ROOT, 'test/http/openapi-client/calls.ts'), path.join(work, 'calls.ts'));
}, 120_000);
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  rmSync(work, { recursive: true, force: true });
});

describe('a client generated from the OpenAPI document (openapi-typescript + openapi-fetch)', () => {
  it('type-checks under strict settings: every operation the client calls is in the generated types', () => {
    writeFileSync(path.join(work, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023', 'DOM'], types: [], strict: true, noEmit: true, allowImportingTsExtensions: true, skipLibCheck: true },
      files: ['calls.ts'],
    }));
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(work, 'tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);

  it('the document served under /clip names a server relative to itself, so paths resolve under /clip', () => {
    expect(doc.servers).toEqual([expect.objectContaining({ url: '.' })]);
    expect(new URL(`${doc.servers[0]!.url}/v1/classify`, docUrl).pathname).toBe('/clip/v1/classify');
  });

  it('classifies, embeds, indexes and searches by operationId against the server', async () => {
    const { clipClient } = (await import(path.join(work, 'calls.ts'))) as { clipClient: (baseUrl: string, d: typeof doc) => Client };
    const baseUrl = new URL(doc.servers[0]!.url, docUrl).href.replace(/\/$/, '');
    const api = clipClient(baseUrl, doc);
    const red = imageOf('red circle');

    const c = await api.classify(red, { labels: ['red circle', 'blue star', 'green heart'], topK: 2 });
    expect(c.results.map((x) => x.label)).toHaveLength(2);
    expect(c.results[0]!.label).toBe('red circle');

    const e = await api.embedImage(red);
    expect(e.dim).toBe((await sharedClip()).info.embedDim);
    expect(Math.hypot(...e.embedding)).toBeCloseTo(1, 4);
    const t = await api.embedText(['a photo of a red circle.']);
    expect(t.embeddings).toHaveLength(1);

    for (const label of ['red circle', 'blue star', 'green heart']) await api.indexImages(imageOf(label), { id: label, metadata: JSON.stringify({ label }) });
    const s = await api.search({ text: 'a photo of a red circle.', topK: 3, includeMetadata: true });
    expect(s.matches.map((m) => m.id)).toHaveLength(3);
    expect(s.matches[0]!.id).toBe('red circle');
    expect(s.matches[0]!.metadata).toEqual({ label: 'red circle' });
  }, 120_000);
});
