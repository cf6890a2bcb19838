// The index contract as a plain script, for runtimes without vitest (Deno, Bun):
//   deno run -A test/search/run-contract.ts <dir>    bun run test/search/run-contract.ts <dir>
// Runs every case against the LanceDB driver in <dir> and prints one JSON line:
// {"runtime", "passed": [names], "failed": [{name, error}]}.
import { createLanceDbIndex } from '../../src/search/drivers/lancedb.ts';
import { indexContract } from '../contract/search-index.ts';

declare const Deno: { args: string[] } | undefined;
declare const Bun: { version: string } | undefined;
const dir = (typeof Deno !== 'undefined' ? Deno.args : process.argv.slice(2))[0];
if (!dir) throw new Error('usage: run-contract.ts <dir>');
const runtime = typeof Deno !== 'undefined' ? 'deno' : typeof Bun !== 'undefined' ? 'bun' : 'node';

const passed: string[] = [];
const failed: { name: string; error: string }[] = [];
for (const c of indexContract((o, key) => createLanceDbIndex({ ...o, uri: `${dir}/${key}` }))) {
  try {
    await c.run();
    passed.push(c.name);
  } catch (e) {
    failed.push({ name: c.name, error: e instanceof Error ? e.message : String(e) });
  }
}
console.log(JSON.stringify({ runtime, passed, failed }));
