import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './case.ts';
import { pkgVersion } from './peer.ts';

const require = createRequire(import.meta.url);

/** The CPU model as /proc/cpuinfo names it (os.cpus() where there is none). */
export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    /* not Linux */
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

const cli = (bin: string, args: string[]) => {
  const r = spawnSync(path.join(ROOT, 'node_modules/.bin', bin), args, { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? r.stdout.trim().split('\n')[0]! : 'unavailable';
};

/** Versions of everything a figure depends on. */
export function versions(): Record<string, string> {
  const wrangler = createRequire(require.resolve('wrangler/package.json'));
  return {
    node: process.version,
    'onnxruntime-web': pkgVersion(require, 'onnxruntime-web'),
    'onnxruntime-node': pkgVersion(require, 'onnxruntime-node'),
    '@huggingface/transformers': pkgVersion(require, '@huggingface/transformers'),
    'transformers.js onnxruntime-web': pkgVersion(createRequire(require.resolve('@huggingface/transformers')), 'onnxruntime-web'),
    sharp: pkgVersion(createRequire(require.resolve('@huggingface/transformers')), 'sharp'),
    deno: cli('deno', ['--version']),
    bun: cli('bun', ['--version']),
    wrangler: pkgVersion(require, 'wrangler'),
    workerd: pkgVersion(createRequire(wrangler.resolve('miniflare')), 'workerd'),
  };
}

export function machine() {
  return {
    host: os.hostname(),
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    platform: `${os.platform()} ${os.release()}`,
  };
}
