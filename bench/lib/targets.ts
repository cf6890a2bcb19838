// The two servers the load bench and the fault-and-recovery suite run against, on 127.0.0.1:
//   node:    `node bin/clip-edge.js serve` (the `npm start` path, default backend and variant);
//   workerd: wrangler.toml's Worker as `wrangler deploy --dry-run` builds it, run by Miniflare's
//            workerd directly (R2/KV filled by `npm run workers:upload -- --local` into a private
//            state folder). `wrangler dev` is not used: it puts a proxy worker (a second workerd) in
//            front and reloads the Worker when source files change, which would be measured too.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readWranglerToml } from '../../scripts/workers-upload.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STATE = path.join(ROOT, '.cache/bench-load/wrangler-state');
const BUILD = path.join(ROOT, '.cache/bench-load/build');

export interface Target {
  name: 'node' | 'workerd';
  url: string;
  /** The process that serves (workerd itself for the Worker), for its RSS. */
  pid: number;
  describe: string;
  stop(): Promise<void>;
}

/** Resident set of a process in bytes, from /proc (Linux). */
export const rssOf = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
};

/** The first descendant of `pid` whose command name matches (Miniflare → workerd). */
export function findDescendant(pid: number, name: RegExp): number | undefined {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* gone */
    }
  }
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length) {
    const p = queue.shift()!;
    try {
      if (name.test(readFileSync(`/proc/${p}/comm`, 'utf8').trim())) return p;
    } catch {
      continue;
    }
    queue.push(...(children.get(p) ?? []));
  }
  return undefined;
}

function started(args: string[], env: Record<string, string>, cwd = ROOT): { proc: ChildProcess; log: () => string; stop: () => Promise<void> } {
  const proc = spawn(process.execPath, args, { cwd, env: { ...process.env, NO_COLOR: '1', CLIP_EDGE_REQUEST_LOG: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-20_000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-20_000)));
  const stop = () =>
    new Promise<void>((r) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return r();
      proc.once('exit', () => r());
      proc.kill('SIGTERM');
    });
  return { proc, log: () => out, stop };
}

/**
 * `node bin/clip-edge.js serve` on a free port with these environment variables (CLIP_EDGE_*);
 * `root`: another checkout of the project (a baseline commit's worktree), default this one.
 */
export async function startNode(env: Record<string, string>, root = ROOT): Promise<Target> {
  const s = started(['bin/clip-edge.js', 'serve', '--port', '0', '--host', '127.0.0.1'], env, root);
  const url = await new Promise<string>((resolve, reject) => {
    const poll = setInterval(() => {
      const m = /listening on (http:\/\/[^\s]+)/.exec(s.log());
      if (m) {
        clearInterval(poll);
        resolve(m[1]!);
      } else if (s.proc.exitCode !== null) {
        clearInterval(poll);
        reject(new Error(`clip-edge serve exited:\n${s.log()}`));
      }
    }, 100);
  });
  const models = (await (await fetch(`${url}/v1/models`)).json()) as { models: { backend: string; active: { vision: { variant: string } } }[] };
  const m = models.models[0]!;
  return { name: 'node', url, pid: s.proc.pid!, stop: s.stop, describe: `node bin/clip-edge.js serve (backend ${m.backend}, vision ${m.active.vision.variant}, text tower on)` };
}

/** The Miniflare that wrangler itself runs `wrangler dev` with (its own dependency, classic options API). */
export interface MiniflareLike {
  ready: Promise<URL>;
  dispose(): Promise<void>;
}
type MiniflareModule = { Miniflare: new (o: Record<string, unknown>) => MiniflareLike; Log: new (level: number) => unknown; LogLevel: Record<string, number> };
async function miniflareModule(): Promise<MiniflareModule> {
  const fromWrangler = createRequire(createRequire(import.meta.url).resolve('wrangler/package.json'));
  return (await import(pathToFileURL(fromWrangler.resolve('miniflare')).href)) as MiniflareModule;
}
export async function wranglersMiniflare(): Promise<MiniflareModule['Miniflare']> {
  return (await miniflareModule()).Miniflare;
}
/** A Miniflare `log` option at info level (e.g. each queue batch: "QUEUE q 25/25 (5732ms)") that also hands every line to `onLine`. */
export async function miniflareInfoLog(onLine: (line: string) => void = () => {}): Promise<unknown> {
  const m = await miniflareModule();
  const Base = m.Log as unknown as new (level: number) => { log(message: string): void };
  class Tee extends Base {
    override log(message: string): void {
      onLine(message);
      super.log(message);
    }
  }
  return new Tee(m.LogLevel.INFO!);
}

/**
 * A Worker bundled as `wrangler deploy --dry-run` builds it (wrangler.toml's, or `config`'s), into
 * `outdir`, as Miniflare's modules options: Miniflare cannot follow the bundle's dynamic imports, so
 * every module is listed (PLATFORM-NOTES). `entry`: the bundle's file, named after the config's `main`.
 */
export function bundleWorker(outdir: string, config?: string, entry = 'worker.js'): { modulesRoot: string; modules: { type: string; path: string }[] } {
  const dry = spawnSync(process.execPath, ['node_modules/wrangler/bin/wrangler.js', 'deploy', '--dry-run', ...(config ? ['-c', config] : []), '--outdir', outdir], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  if (dry.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${dry.stderr}`);
  return {
    modulesRoot: outdir,
    modules: [
      { type: 'ESModule', path: path.join(outdir, entry) },
      ...readdirSync(outdir).filter((f) => f.endsWith('.wasm')).map((f) => ({ type: 'CompiledWasm', path: path.join(outdir, f) })),
    ],
  };
}

/** The Worker in workerd on a free port, wrangler.toml's vars overridden by `vars`. Builds and fills R2/KV on first use. */
export async function startWorkerd(vars: Record<string, string>): Promise<Target> {
  if (!existsSync(STATE)) {
    const up = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/workers-upload.ts', '--local', '--persist-to', STATE], { cwd: ROOT, encoding: 'utf8' });
    if (up.status !== 0) throw new Error(`workers:upload failed:\n${up.stderr}`);
  }
  const bundle = bundleWorker(BUILD);
  const tomlText = readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8');
  const toml = readWranglerToml(tomlText);
  const mf = new (await wranglersMiniflare())({
    ...bundle,
    compatibilityDate: /compatibility_date\s*=\s*"([^"]+)"/.exec(tomlText)![1]!,
    bindings: { ...toml.vars, ...vars },
    r2Buckets: { MODELS: toml.bucket ?? 'clip-edge-models' },
    kvNamespaces: { PROMPTS: /\[\[kv_namespaces\]\][^[]*?id\s*=\s*"([^"]+)"/.exec(tomlText)?.[1] ?? 'PROMPTS' },
    r2Persist: path.join(STATE, 'v3/r2'),
    kvPersist: path.join(STATE, 'v3/kv'),
    host: '127.0.0.1',
    port: 0,
  });
  const url = (await mf.ready).origin;
  const models = (await (await fetch(`${url}/v1/models`)).json()) as { models: { backend: string; active: { vision: { variant: string } } }[] };
  const m = models.models[0]!;
  const pid = findDescendant(process.pid, /^workerd$/);
  if (!pid) throw new Error('workerd process not found');
  return { name: 'workerd', url, pid, stop: () => mf.dispose(), describe: `workerd via Miniflare, the Worker built by wrangler deploy --dry-run (backend ${m.backend}, vision ${m.active.vision.variant}, vision only)` };
}
