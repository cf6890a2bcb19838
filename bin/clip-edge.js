#!/usr/bin/env node
// The clip-edge command. The installed package runs its built JavaScript (dist/); a clone, which
// has the TypeScript sources and no build, runs them through tsx (a dev dependency there).
import { existsSync } from 'node:fs';

// citty colours its help unless NO_COLOR is exactly "1" (or TERM=dumb, CI, TEST) and never looks at
// the terminal: set before citty loads, colours only when stdout is a terminal (and NO_COLOR with
// any value turns them off, as no-color.org says). FORCE_COLOR keeps them.
if ((process.env.NO_COLOR || !process.stdout.isTTY) && !process.env.FORCE_COLOR) process.env.NO_COLOR = '1';

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
