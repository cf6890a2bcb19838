import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClipApp } from '../../src/http/app.ts';
import { REPO_ROOT, sharedClip } from '../helpers/clip.ts';

// The document /openapi.json serves, linted by Redocly CLI's `recommended` ruleset (an outside
// judge of what a good OpenAPI description is): no error and no warning. Plus what the rules do
// not see: each error code once per description, topK typed the same everywhere.

type Operation = { operationId?: string; parameters?: { name: string; in: string; schema: { type?: string } }[]; requestBody?: { content: Record<string, unknown> }; responses: Record<string, { description: string }> };
type Doc = { paths: Record<string, Record<string, Operation>> };

const dir = mkdtempSync(path.join(tmpdir(), 'clip-edge-openapi-lint-'));
let doc: Doc;
beforeAll(async () => {
  const app = createClipApp({ clip: await sharedClip() });
  doc = (await (await app.request('/openapi.json')).json()) as Doc;
  writeFileSync(path.join(dir, 'openapi.json'), JSON.stringify(doc, null, 2));
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const operations = () => Object.entries(doc.paths).flatMap(([p, item]) => Object.entries(item).map(([m, op]) => ({ route: `${m.toUpperCase()} ${p}`, op })));

describe('the OpenAPI document', () => {
  it("passes Redocly's recommended ruleset with zero errors and zero warnings", () => {
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/@redocly/cli/bin/cli.js'), 'lint', '--extends', 'recommended', '--format', 'json', path.join(dir, 'openapi.json')], {
      encoding: 'utf8',
      cwd: dir,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      timeout: 60_000,
    });
    const out = r.stdout.slice(r.stdout.indexOf('{'));
    const report = JSON.parse(out) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string; location: { pointer: string }[] }[] };
    const problems = report.problems.map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    expect(problems).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 60_000);

  it('gives every operation a unique operationId', () => {
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('names each error code once per response description', () => {
    for (const { route, op } of operations()) {
      for (const [status, res] of Object.entries(op.responses)) {
        if (Number(status) < 400 || status === '431') continue;
        const codes = res.description.split(', ');
        expect(codes, `${route} ${status}`).toEqual([...new Set(codes)]);
      }
    }
  });

  it("types topK as an integer on every route that takes it, and lists application/octet-stream where a raw image is accepted", () => {
    const topKs = operations().flatMap(({ route, op }) => (op.parameters ?? []).filter((p) => p.name === 'topK').map((p) => [route, p.schema.type]));
    expect(topKs).toEqual([['POST /v1/classify', 'integer'], ['POST /v1/search', 'integer']]);
    const raw = operations().filter(({ op }) => op.requestBody?.content['image/*']).map(({ route, op }) => [route, Object.keys(op.requestBody!.content).includes('application/octet-stream')]);
    expect(raw).toEqual([['POST /v1/classify', true], ['POST /v1/embed/image', true], ['POST /v1/index', true], ['POST /v1/search', true]]);
  });
});
