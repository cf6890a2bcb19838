import { SingleBar } from 'cli-progress';
import { isClipEdgeError } from '../core/errors.ts';
import { PRECISIONS } from '../core/precision.ts';

/** Options every model-using command shares. */
export const modelArgs = {
  model: { type: 'string', description: 'Model folder (default: the bundled models/tiny-clip)', valueHint: 'dir' },
  variant: { type: 'string', description: `Vision variant: auto | ${PRECISIONS.join(' | ')}`, default: 'auto' },
  backend: { type: 'string', description: 'auto | node | wasm', default: 'auto' },
  threads: { type: 'string', description: 'onnxruntime threads', default: '1' },
} as const;

export const parseIntArg = (name: string, v: string | undefined, min = 1): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, got "${v}"`);
  return n;
};

export class CliUsageError extends Error {}

export function fail(message: string): never {
  throw new CliUsageError(message);
}

/** Runs a command body; prints clip-edge errors as one line and sets the exit code (2: bad input, 1: other). */
export async function guard(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException | undefined)?.code;
    if (errno === 'ENOENT' || errno === 'EISDIR' || errno === 'EACCES') {
      const p = (e as NodeJS.ErrnoException).path;
      const why = { ENOENT: 'no such file', EISDIR: 'is a directory', EACCES: 'permission denied' }[errno];
      process.stderr.write(`clip-edge: cannot read ${p ?? 'a file'}: ${why}\n`);
      process.exitCode = 2;
    } else if (e instanceof CliUsageError) {
      process.stderr.write(`clip-edge: ${e.message}\n`);
      process.exitCode = 2;
    } else if (isClipEdgeError(e)) {
      process.stderr.write(`clip-edge: ${e.code}: ${e.message}\n`);
      process.exitCode = ['BAD_INPUT', 'CORRUPT_IMAGE', 'UNSUPPORTED_IMAGE', 'IMAGE_TOO_LARGE', 'TOO_MANY_LABELS', 'UNKNOWN_LABEL_SET'].includes(e.code) ? 2 : 1;
    } else {
      process.stderr.write(`clip-edge: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exitCode = 1;
    }
  }
}

/** A progress bar on stderr when it is a terminal and there is enough work to show; silent otherwise. */
export function progress(total: number, label: string): { tick(): void; stop(): void } {
  if (!process.stderr.isTTY || total < 3) return { tick() {}, stop() {} };
  // The rate (items per second since the start) says what a long build costs; the ETA follows it.
  const bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} {rate}/s ETA {eta_formatted}`, stream: process.stderr, hideCursor: true, etaBuffer: 50 });
  const t0 = performance.now();
  let done = 0;
  bar.start(total, 0, { rate: '-' });
  return {
    tick: () => bar.increment(1, { rate: (++done / ((performance.now() - t0) / 1000)).toFixed(1) }),
    stop: () => bar.stop(),
  };
}
