// The Workers entry (wrangler.toml `main`): one app per isolate, built from the bindings on the first request.
import type { Hono } from 'hono';
import { isClipEdgeError } from '../../core/errors.ts';
import type { WorkersEnv } from './bindings.ts';
import { createWorkersApp } from './create.ts';

let app: { env: WorkersEnv; app: Hono } | undefined;

export default {
  fetch(request: Request, env: WorkersEnv, ctx: unknown): Response | Promise<Response> {
    try {
      if (app?.env !== env) app = { env, app: createWorkersApp(env) };
    } catch (e) {
      // A misconfigured deployment (bad var): say which variable, but as a server error, not the client's.
      console.error('[clip-edge] invalid Worker configuration:', e);
      const message = isClipEdgeError(e) ? e.message : 'invalid configuration';
      return Response.json({ error: { code: 'CONFIG_INVALID', message } }, { status: 500 });
    }
    return app.app.fetch(request, env, ctx as never);
  },
};
