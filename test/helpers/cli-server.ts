import { spawn } from 'node:child_process';
import { REPO_ROOT } from './clip.ts';

export interface CliServer {
  url: string;
  pid: number;
  /** What the server printed (stdout and stderr, the last 50 KB). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * `node bin/clip-edge.js serve --port 0 --host 127.0.0.1 [...args]` as a user runs it, with extra
 * environment variables; resolves once it says where it listens.
 */
export function startCliServer(env: Record<string, string>, args: string[] = []): Promise<CliServer> {
  const proc = spawn(process.execPath, ['bin/clip-edge.js', 'serve', '--port', '0', '--host', '127.0.0.1', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const stop = () =>
    new Promise<void>((r) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return r();
      proc.once('exit', () => r());
      proc.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out = (out + d.toString()).slice(-50_000);
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve({ url: m[1]!, pid: proc.pid!, log: () => out, stop });
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`clip-edge serve exited (${code}) before listening:\n${out}`)));
  });
}
