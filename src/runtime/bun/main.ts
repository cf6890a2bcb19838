// bun run src/runtime/bun/main.ts
import { serveBun } from './serve.ts';

const running = await serveBun();
console.error(`clip-edge (Bun) listening on ${running.url}`);
