#!/usr/bin/env node
// The package ships TypeScript sources; tsx runs them on Node 20 (Deno and Bun run them natively).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
