import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killGroups } from '../helpers/process-groups.ts';
import { REPO_ROOT } from '../helpers/clip.ts';
import { userEnv } from '../helpers/user-env.ts';

// GET / on the Bun and Deno servers, run with the README's commands from the clone: the classifier
// page, as on Node (Bun builds it with esbuild like Node does). Deno cannot run esbuild's JS API, so
// from a clone it serves the API alone and says why on stderr (the installed package's prebuilt
// page needs no build).
const children: ChildProcess[] = [];
afterAll(() => killGroups(children)); // each server leads its own process group (detached)

function start(bin: string, args: string[]): Promise<{ url: string; log: () => string }> {
  const child = spawn(path.join(REPO_ROOT, 'node_modules/.bin', bin), args, { cwd: REPO_ROOT, env: { ...userEnv().env, PORT: '0', DENO_NO_UPDATE_CHECK: '1' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, log: () => out });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${bin} exited ${code}:\n${out}`)));
  });
}

describe('GET / on Bun and Deno', () => {
  it('Bun serves the classifier page at /', async () => {
    const s = await start('bun', ['run', 'src/runtime/bun/main.ts']);
    const res = await fetch(`${s.url}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/<html/i);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  }, 180_000);

  it('Deno from a clone serves the API and says why the page is not served', async () => {
    const s = await start('deno', ['run', '--allow-read', '--allow-env', '--allow-net', 'src/runtime/deno/main.ts']);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    const res = await fetch(`${s.url}/`);
    expect(res.status).toBe(404);
    await res.body?.cancel();
    expect(s.log()).toMatch(/the page at \/ is not served: esbuild could not build it here/);
  }, 180_000);
});
