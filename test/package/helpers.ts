// Packing the repository and installing the tarball into a fresh project, as a user would.
import { type ChildProcess, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = (name: string) => path.join(REPO_ROOT, 'node_modules/.bin', name);
/** The version this repository's lockfile installed, so the consumer's install comes from the npm cache. */
export const lockedVersion = (pkg: string) => (JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}, timeout = 180_000): Run {
  const r: SpawnSyncReturns<string> = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, NO_COLOR: '1', ...env } });
  return { status: r.status, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? `\n${String(r.error)}` : ''}` };
}

export const explain = (what: string, r: Run) => `${what} exited ${r.status}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;

/** `npm pack` (its prepack builds dist/) into `dir`; the tarball's path, npm's file list and its warnings. */
export function pack(dir: string): { tarball: string; size: number; files: string[]; warnings: string[] } {
  const r = run('npm', ['pack', '--json', '--pack-destination', dir], REPO_ROOT, {}, 300_000);
  if (r.status !== 0) throw new Error(explain('npm pack', r));
  const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { filename: string; size: number; files: { path: string }[] }[];
  const warnings = r.stderr.split('\n').filter((l) => /^npm warn/i.test(l));
  return { tarball: path.join(dir, info!.filename), size: info!.size, files: info!.files.map((f) => f.path), warnings };
}

/** A tarball packed beforehand (.ci/run packs once for the runs on the other Node versions); its files as `pack` lists them. */
export function packed(tarball: string): ReturnType<typeof pack> {
  const r = run('tar', ['-tzf', tarball], REPO_ROOT);
  if (r.status !== 0) throw new Error(explain('tar -tzf', r));
  const files = r.stdout.trim().split('\n').filter((f) => !f.endsWith('/')).map((f) => f.replace(/^package\//, ''));
  return { tarball, size: statSync(tarball).size, files, warnings: [] };
}

/** A fresh project at `dir` with the tarball (and `extra` packages) installed from the npm cache. */
export function consumerProject(dir: string, tarball: string, extra: string[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2)}\n`);
  const r = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, ...extra], dir, {}, 300_000);
  if (r.status !== 0) throw new Error(explain('npm install (consumer)', r));
}

export const copy = (from: string, to: string) => cpSync(from, to, { recursive: true });

/** Starts a long-running command and resolves once a line of its output matches `ready`. */
export function start(cmd: string, args: string[], cwd: string, ready: RegExp, env: Record<string, string> = {}, timeout = 120_000): Promise<{ child: ChildProcess; match: RegExpExecArray; output: () => string }> {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop(child);
      reject(new Error(`${cmd} ${args.join(' ')} not ready after ${timeout} ms:\n${out.slice(-4000)}`));
    }, timeout);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args.join(' ')} exited ${code} before it was ready:\n${out.slice(-4000)}`));
    });
  });
}

/** Ends a child started by `start` and everything it started (its process group). */
export function stop(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    /* already gone */
  }
}

/** `run` without blocking the event loop: for commands that talk to a server in this process. */
export function runAsync(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}, timeout = 180_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', (e) => (stderr += `\n${String(e)}`));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
