// The slice of the Workers runtime's `cloudflare:workers` module the text Worker uses (typed here so
// that the package does not pull @cloudflare/workers-types into every runtime's type check).
declare module 'cloudflare:workers' {
  /** A named entrypoint: its public methods are callable over a service binding (Workers RPC). */
  export abstract class WorkerEntrypoint<Env = unknown> {
    protected readonly env: Env;
    protected readonly ctx: { waitUntil(promise: Promise<unknown>): void };
    constructor(ctx: unknown, env: Env);
  }
}
