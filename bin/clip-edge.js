#!/usr/bin/env node
// The clip-edge command. The installed package runs its built JavaScript (dist/); a clone, which
// has the TypeScript sources and no build, runs them through tsx (a dev dependency there).
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let cli;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(source.href);
} else {
  cli = await import('../dist/src/cli/main.js');
}
const { runMain } = await import('citty');
await runMain(cli.main);
