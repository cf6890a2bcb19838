// `npm run dev:workers` on a fresh clone: nothing uploaded or built first. The script seeds local
// R2/KV and builds the page, then wrangler dev serves classify from the KV prompt cache and the
// page from static assets, and inline labels through the text Worker (wrangler.text.toml, started beside
// it); a second start finds both up to date and rebuilds nothing.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/clip.ts';
import { start, stop } from './helpers.ts';

const state = path.join(mkdtempSync(path.join(tmpdir(), 'clip-edge-dev-workers-')), 'state');
afterAll(() => rmSync(path.dirname(state), { recursive: true, force: true }));
const photo = readFileSync(path.join(REPO_ROOT, 'test/fixtures/tiny-clip-eval/images/red_circle_01.jpg'));

async function devWorkers(port: number) {
  return start('npm', ['run', 'dev:workers', '--', '--ip', '127.0.0.1', '--port', String(port)], REPO_ROOT, /Ready on http:\/\/\S+/, { CLIP_EDGE_DEV_STATE: state }, 240_000);
}

describe('npm run dev:workers', () => {
  it('seeds local R2/KV and builds the page when missing, then serves; the next start rebuilds nothing', async () => {
    // Below Linux's ephemeral range (32768–60999): the script starts workerd several times while it
    // seeds R2/KV before wrangler binds this port, and the OS hands those processes' sockets ports
    // from that range (one once took the port picked here: "Address already in use").
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const first = await devWorkers(port);
    try {
      expect(first.output()).toMatch(/r2-kv-seed missing, building it/);
      // No warning the project can remove: npm's config warnings, wrangler's update banner.
      expect(first.output()).not.toMatch(/npm warn|update available/i);
      const res = await fetch(`http://127.0.0.1:${port}/v1/classify?labelSet=tiny-clip-shapes&topK=1`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: photo });
      const body = (await res.json()) as { results: { label: string }[]; classes: { source: string } };
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body.results[0]!.label).toBe('red circle');
      expect(body.classes.source).toBe('prompt-cache');
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toMatch(/<html/i);
      // Both Workers run: labels typed now are embedded by the text Worker over the TEXT binding.
      const inline = await fetch(`http://127.0.0.1:${port}/v1/classify?labels=red%20circle,blue%20star&topK=1`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: photo });
      const j = (await inline.json()) as { results: { label: string }[]; classes: { source: string } };
      expect(inline.status, JSON.stringify(j)).toBe(200);
      expect(j.results[0]!.label).toBe('red circle');
      expect(j.classes.source).toBe('text-encoder');
    } finally {
      stop(first.child);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const second = await devWorkers(port + 1);
    try {
      expect(second.output()).toMatch(/r2-kv-seed up to date/);
      expect(second.output()).toMatch(/page up to date/);
    } finally {
      stop(second.child);
    }
  }, 600_000);
});
