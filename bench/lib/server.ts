// Starts clip-edge's HTTP server on a runtime (a real process on 127.0.0.1, ephemeral port) and
// says how long it took to listen.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './case.ts';
import { imagenetLabels, TEMPLATE } from './photos.ts';

export type ServerRuntime = 'node' | 'deno' | 'bun';

const COMMANDS: Record<ServerRuntime, { bin: string; args: string[] }> = {
  node: { bin: process.execPath, args: ['bin/clip-edge.js', 'serve'] },
  deno: { bin: path.join(ROOT, 'node_modules/.bin/deno'), args: ['run', '--allow-read', '--allow-env', '--allow-net', 'src/runtime/deno/main.ts'] },
  bun: { bin: path.join(ROOT, 'node_modules/.bin/bun'), args: ['run', 'src/runtime/bun/main.ts'] },
};

/**
 * What to spawn for a command. npm's `deno` package makes node_modules/.bin/deno a Node shim that runs
 * the real binary (node_modules/deno/deno) as its child where its install script did not run (a
 * clean `npm ci`); stop()'s SIGKILL reached the shim only, and the Deno server it had started kept
 * serving after the bench (found after clean-clone CI runs). So the binary is run directly.
 */
function spawnable(bin: string): string {
  const real = path.join(ROOT, 'node_modules/deno/deno');
  return bin === COMMANDS.deno.bin && existsSync(real) ? real : bin;
}

export const serverCommand = (rt: ServerRuntime): string => [rt === 'node' ? 'node' : path.relative(ROOT, COMMANDS[rt].bin), ...COMMANDS[rt].args].join(' ');

export interface RunningServer {
  url: string;
  /** performance.now() when the process was spawned. */
  spawnedAt: number;
  /** Spawn → "listening" (the model is loaded and its sessions created before the server listens). */
  listenMs: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function startServer(rt: ServerRuntime, env: Record<string, string>, options: { v8Flags?: string[]; timeoutMs?: number } = {}): Promise<RunningServer> {
  const { bin, args: baseArgs } = COMMANDS[rt];
  const flags = options.v8Flags ?? [];
  const args = !flags.length ? baseArgs : rt === 'node' ? [...flags, ...baseArgs] : rt === 'deno' ? [baseArgs[0]!, `--v8-flags=${flags.join(',')}`, ...baseArgs.slice(1)] : baseArgs;
  const timeoutMs = options.timeoutMs ?? 300_000;
  const spawnedAt = performance.now();
  const child = spawn(spawnable(bin), args, {
    cwd: ROOT,
    // No request log: the bench measures the service, not a line per request into a pipe.
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', CLIP_EDGE_REQUEST_LOG: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = () =>
    new Promise<void>((r) => {
      if (child.exitCode !== null || child.signalCode !== null) return r();
      child.once('exit', () => r());
      child.kill('SIGKILL');
    });
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${rt} server did not listen within ${timeoutMs} ms:\n${log.slice(-2000)}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      log += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, spawnedAt, listenMs: performance.now() - spawnedAt, child, stop });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${rt} server exited with ${code}:\n${log.slice(-2000)}`));
    });
  });
}

/** POSTs one image to /v1/classify and returns the parsed answer (throws on a non-200). */
export async function classifyOver(url: string, image: Uint8Array, query: URLSearchParams): Promise<{ backend: string; variant: { vision: string }; results: { label: string }[] }> {
  const r = await fetch(`${url}/v1/classify?${query}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: image as Uint8Array<ArrayBuffer> });
  const body = (await r.json()) as { error?: { code: string; message: string } };
  if (r.status !== 200) throw new Error(`classify: HTTP ${r.status} ${JSON.stringify(body.error)}`);
  return body as never;
}

/** A label-set request when the model ships that cache (no text tower run), else inline labels. */
export function coldStartQuery(model: string): { query: URLSearchParams; what: string } {
  const query = new URLSearchParams({ topK: '1' });
  if (existsSync(path.join(model, 'prompts', 'cifar10.bin'))) {
    query.set('labelSet', 'cifar10');
    return { query, what: 'labelSet=cifar10 (prompt cache)' };
  }
  for (const l of imagenetLabels(10)) query.append('labels', l);
  query.set('templates', TEMPLATE);
  return { query, what: '10 inline labels (text tower on the first request)' };
}

