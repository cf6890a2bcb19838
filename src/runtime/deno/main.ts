// deno run --allow-read --allow-env --allow-net src/runtime/deno/main.ts
import { serveDeno } from './serve.ts';

const running = await serveDeno();
console.error(`clip-edge (Deno) listening on ${running.url}`);
