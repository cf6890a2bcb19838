import type { ChildProcess } from 'node:child_process';

/**
 * Kills each child's whole process group (spawn them with `detached: true`):
 * node_modules/.bin/deno is a Node shim that starts the real binary as a child (its install script
 * is not run), and killing the shim alone left that child serving after the suite.
 */
export function killGroups(children: readonly ChildProcess[]): void {
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
