// The slice of vitest-pool-workers' `cloudflare:test` module these tests use (its full types need
// @cloudflare/workers-types, which would change the globals of the whole project's type check).
declare module 'cloudflare:test' {
  export const env: import('./workerd/helpers.ts').TestEnv;
  /** The Worker of wrangler.toml `main`, called as a service binding. */
  export const SELF: { fetch(input: Request | string, init?: RequestInit): Promise<Response> };
}
