#!/usr/bin/env node
// The clip-edge command. The installed package runs its built JavaScript (dist/); a clone, which
// has the TypeScript sources and no build, runs them through tsx (a dev dependency there).
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/src/cli/main.js');
}
