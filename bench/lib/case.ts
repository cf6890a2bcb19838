// One benchmark case runs in its own process (fresh ORT, its own thread setting and memory):
// the parent passes its arguments as JSON, the case prints its result as one marked JSON line.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url));
export const ROOT = path.resolve(BENCH_DIR, '..');
const MARK = 'BENCH_RESULT ';

/** Inside a case: reads the arguments, runs `main`, prints its result, and exits (ORT's threads would keep the process alive). */
export function caseMain<A, R>(main: (args: A) => Promise<R>): void {
  const args = JSON.parse(process.argv[2] ?? '{}') as A;
  main(args).then(
    (r) => {
      process.stdout.write(`\n${MARK}${JSON.stringify(r)}\n`, () => process.exit(0));
    },
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}

export interface CaseOptions {
  timeoutMs?: number;
  /** Forwarded to the case's stderr (progress lines). @defaultValue process.stderr */
  log?: (line: string) => void;
  env?: Record<string, string>;
  /** V8 flags of the case process. @defaultValue NODE_BENCH_FLAGS */
  v8Flags?: string[];
}

/**
 * V8 flags of every case process: compile WebAssembly with the optimising compiler up front. By
 * default V8 starts wasm in its baseline compiler and tiers hot functions up in the background; on a
 * busy machine that took over 80 forward passes of ORT-web (4–15× slower until then), which no
 * fixed warm-up covers. Both peers of a row share the process, so both get the same code quality.
 */
export const NODE_BENCH_FLAGS = ['--no-liftoff'];

/** Runs `bench/cases/<name>.ts` with `args` in a child Node process and resolves with its result. */
export function runCase<R>(name: string, args: object, options: CaseOptions = {}): Promise<R> {
  const log = options.log ?? ((l: string) => process.stderr.write(`  [${name}] ${l}\n`));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.v8Flags ?? NODE_BENCH_FLAGS), '--import', 'tsx', path.join(BENCH_DIR, 'cases', `${name}.ts`), JSON.stringify(args)], {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const lines = err.split('\n');
      err = lines.pop()!;
      for (const l of lines) if (l.trim()) log(l);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20 * 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (err.trim()) log(err);
      const line = out.split('\n').find((l) => l.startsWith(MARK));
      if (code === 0 && line) resolve(JSON.parse(line.slice(MARK.length)) as R);
      else reject(new Error(`bench case ${name} ${JSON.stringify(args)} failed (${signal ?? `exit ${code}`})${signal === 'SIGKILL' ? ': timed out' : ''}\n${out.slice(-2000)}`));
    });
  });
}
