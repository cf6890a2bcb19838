// The bench Worker (bench/workers/bench-worker.ts: the production worker.ts behind a few /bench/*
// routes) under `wrangler dev --local` on free 127.0.0.1 ports, offline, its R2/KV state persisted
// in a folder of the caller's. Used by bench/cases/workerd.ts and bench/workers-in-place.ts.
// (bench/lib/targets.ts starts the deployable Worker differently, through Miniflare directly, to
// leave wrangler dev's proxy worker out of the load figures.)
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { ROOT } from './case.ts';

export interface WranglerDev {
  url: string;
  /** performance.now() when wrangler was spawned. */
  spawnedAt: number;
  /** Spawn → the first 200 from /bench/ping. */
  readyMs: number;
  stop(): Promise<void>;
}

/** A port the OS just handed out and released (wrangler takes port numbers, not a listening socket). */
export const freePort = (): Promise<number> =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/**
 * Starts the bench Worker with `vars` (wrangler.toml's overridden; the request log is off unless
 * `vars` turns it on) and resolves once /bench/ping answers; rejects with wrangler's last output when
 * it exits or is not ready within two minutes. `configs` (`-c a.toml -c b.toml`) runs those Workers
 * instead, the first one's main being the bench Worker.
 */
export async function startWranglerDev(vars: Record<string, string>, persist: string, configs?: string[]): Promise<WranglerDev> {
  const [port, inspector] = [await freePort(), await freePort()];
  const spawnedAt = performance.now();
  const proc: ChildProcess = spawn(
    process.execPath,
    [path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', ...(configs ?? ['bench/workers/bench-worker.ts']), '--local', '--ip', '127.0.0.1', '--port', String(port),
      '--inspector-port', String(inspector), '--persist-to', persist, '--log-level', 'warn', ...Object.entries({ CLIP_EDGE_REQUEST_LOG: '0', ...vars }).flatMap(([k, v]) => ['--var', `${k}:${v}`])],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const stop = () =>
    new Promise<void>((r) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return r();
      proc.once('exit', () => r());
      proc.kill('SIGTERM');
    });
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = spawnedAt + 120_000; performance.now() < deadline; ) {
    if (proc.exitCode !== null) throw new Error(`wrangler dev exited:\n${log.slice(-3000)}`);
    try {
      if ((await fetch(`${url}/bench/ping`)).status === 200) return { url, spawnedAt, readyMs: performance.now() - spawnedAt, stop };
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`wrangler dev did not start:\n${log.slice(-3000)}`);
}
