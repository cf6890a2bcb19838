import { Worker } from 'node:worker_threads';

/*
 * A worker thread that runs one module beside this file, on Node, Deno and Bun alike: all three
 * run `node:worker_threads` with an eval'd bootstrap (checked: Node 20, Deno 2.9, Bun 1.4). The
 * bootstrap is eval'd rather than the file given as the entry because a clone runs `.ts` files:
 * Node needs tsx registered in the thread first (Deno and Bun run them natively).
 */

/** The module `name` (no extension) beside this file: `.ts` in a clone (run through tsx), `.js` in the package. */
export function siblingModule(name: string): URL {
  const self = import.meta.url;
  return new URL(self.endsWith('.ts') ? `./${name}.ts` : `./${name}.js`, self);
}

/** Whether this runtime imports `.ts` files itself (Deno, Bun); Node needs tsx for them. */
const runsTypeScript = (): boolean => {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  return g.Deno !== undefined || g.Bun !== undefined;
};

/**
 * An eval'd CommonJS bootstrap: registers tsx for a `.ts` module on Node (a clone), then imports it.
 * Never tsx on Deno: it needs no loader, and tsx's set-up asks for `--allow-sys` there.
 */
export function bootstrapSource(url: URL): string {
  const load = `import(${JSON.stringify(url.href)})`;
  return url.pathname.endsWith('.ts') && !runsTypeScript() ? `import('tsx/esm/api').then((m) => m.register()).then(() => ${load}).catch((e) => { throw e; });` : `${load}.catch((e) => { throw e; });`;
}

/** Starts the module `name` in a new thread with `data` as its workerData. */
export const startModuleThread = (name: string, data: unknown): Worker => new Worker(bootstrapSource(siblingModule(name)), { eval: true, workerData: data });

/**
 * Keeps the process alive only while someone waits on a thread: an idle thread is unref'd (a CLI
 * that classified one image exits), each wait refs it until it ends.
 */
export function threadHolds(): { hold(w: Worker): void; letGo(w: Worker): void } {
  const holds = new Map<Worker, number>();
  return {
    hold(w) {
      holds.set(w, (holds.get(w) ?? 0) + 1);
      w.ref();
    },
    letGo(w) {
      const n = (holds.get(w) ?? 1) - 1;
      if (n > 0) return void holds.set(w, n);
      holds.delete(w);
      w.unref();
    },
  };
}
