/**
 * Renders `pullModel` progress on stderr: cli-progress bars (total + current file) on a TTY,
 * one plain line per file otherwise (logs and CI stay readable).
 */
import cliProgress from 'cli-progress';
import type { PullEvent } from './pull.ts';

/**
 * Where progress goes: `process.stderr` or any writable with `write` (bars also need a TTY's cursor
 * methods). Structural, so the published declarations of the Deno and Bun entries need no Node types.
 */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface PullProgressOptions {
  /** @defaultValue `process.stderr` */
  stream?: ProgressStream;
  /** Draw bars; @defaultValue whether `stream` is a TTY */
  bars?: boolean;
}

export interface PullProgress {
  /** Pass as `pullModel({ onProgress })`. */
  onProgress(event: PullEvent): void;
  /** Stops drawing (call in `finally`, the pull may throw). */
  stop(): void;
}

export function createPullProgress(options: PullProgressOptions = {}): PullProgress {
  const stream = options.stream ?? process.stderr;
  return (options.bars ?? stream.isTTY === true) ? barsOn(stream as NodeJS.WritableStream) : linesOn(stream);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function describe(event: Extract<PullEvent, { type: 'file-done' }>): string {
  const { file } = event;
  const check = file.verifiedBy === 'none' ? 'size only' : `sha256 verified by ${file.verifiedBy}`;
  return `${file.path} ${formatBytes(file.bytes)} ${file.status} (${check})`;
}

function linesOn(stream: ProgressStream): PullProgress {
  const say = (line: string) => void stream.write(`${line}\n`);
  return {
    onProgress(event) {
      if (event.type === 'plan') {
        say(`pull ${event.repo}@${event.revision}: ${event.files.length} files, ${formatBytes(event.totalBytes)} (listing: ${event.listing})`);
      } else if (event.type === 'file-start' && event.offset > 0) {
        say(`${event.path}: resuming at ${formatBytes(event.offset)}`);
      } else if (event.type === 'file-done') {
        say(`  ${describe(event)}`);
      } else if (event.type === 'warning') {
        say(`warning: ${event.message}`);
      }
    },
    stop() {},
  };
}

function barsOn(stream: NodeJS.WritableStream): PullProgress {
  const multi = new cliProgress.MultiBar({
    stream,
    format: '{label} |{bar}| {percentage}% {done}/{size}',
    hideCursor: true,
    clearOnComplete: false,
    autopadding: true,
    fps: 5,
  }, cliProgress.Presets.shades_classic);
  let total: cliProgress.SingleBar | undefined;
  let file: cliProgress.SingleBar | undefined;
  const payload = (label: string, done: number, size: number | undefined) =>
    ({ label, done: formatBytes(done), size: size === undefined ? '?' : formatBytes(size) });

  return {
    onProgress(event) {
      switch (event.type) {
        case 'plan':
          total = multi.create(Math.max(event.totalBytes, 1), 0, payload(`${event.repo}@${event.revision}`, 0, event.totalBytes));
          break;
        case 'file-start':
          file?.stop();
          if (file) multi.remove(file);
          file = multi.create(Math.max(event.bytes ?? 0, 1), event.offset, payload(event.path, event.offset, event.bytes));
          break;
        case 'file-progress':
          file?.update(event.received, payload(event.path, event.received, event.bytes));
          total?.setTotal(Math.max(event.totalBytes, event.totalReceived, 1));
          total?.update(event.totalReceived, { done: formatBytes(event.totalReceived) });
          break;
        case 'file-done':
          total?.update(event.totalReceived, { done: formatBytes(event.totalReceived) });
          multi.log(`${describe(event)}\n`);
          break;
        case 'warning':
          multi.log(`warning: ${event.message}\n`);
          break;
      }
    },
    stop() {
      multi.stop();
    },
  };
}
