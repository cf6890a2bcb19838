// The Workers entry (wrangler.toml `main`): one app per isolate, built from the bindings on the first request.
import type { Hono } from 'hono';
import type { ClipEdge } from '../../core/clip.ts';
import { ClipEdgeError, isClipEdgeError } from '../../core/errors.ts';
import { STATUS_OF } from '../../http/errors.ts';
import type { WorkersEnv } from './bindings.ts';
import { createWorkersApp } from './app.ts';
import { createWorkersClipEdge } from './create.ts';
import { vectorizeIndexOf } from './search-index.ts';
import { createIndexConsumer, type MessageBatchLike } from './index-queue.ts';

let app: { env: WorkersEnv; app: Hono } | undefined;
let consumer: { env: WorkersEnv; run: (batch: MessageBatchLike) => Promise<void> } | undefined;
let kit: { env: WorkersEnv; get: () => Promise<ClipEdge> } | undefined;

/**
 * The isolate's one kit, shared by the HTTP app and the queue consumer: an isolate that serves both
 * would otherwise hold the vision tower twice (ViT-B/32: 2 × 100 MiB, over the 128 MB limit; the
 * second then left a decode budget of 0). A failed load is retried by the next caller.
 */
function kitOf(env: WorkersEnv): () => Promise<ClipEdge> {
  if (kit?.env !== env) {
    let loading: Promise<ClipEdge> | undefined;
    const get = () =>
      (loading ??= createWorkersClipEdge(env).then(
        (k) => k.core,
        (e: unknown) => {
          loading = undefined;
          throw e;
        },
      ));
    kit = { env, get };
  }
  return kit.get;
}

export default {
  fetch(request: Request, env: WorkersEnv, ctx: unknown): Response | Promise<Response> {
    try {
      if (app?.env !== env) app = { env, app: createWorkersApp(env, {}, kitOf(env)) };
    } catch (e) {
      // A misconfigured deployment (bad var): say which variable, but as a server error, not the client's.
      console.error('[clip-edge] invalid Worker configuration:', e);
      const err = new ClipEdgeError('CONFIG_INVALID', isClipEdgeError(e) ? e.message : 'invalid configuration', { cause: e });
      return Response.json({ error: { code: err.code, message: err.message } }, { status: STATUS_OF[err.code] });
    }
    return app.app.fetch(request, env, ctx as never);
  },

  /** The index queue's consumer (wrangler.toml [[queues.consumers]]): R2 keys → embeddings → Vectorize. */
  queue(batch: MessageBatchLike, env: WorkersEnv): Promise<void> {
    if (consumer?.env !== env) {
      if (!env.IMAGES || !env.VECTORIZE) throw new Error('[clip-edge] the index queue needs IMAGES (R2) and VECTORIZE bindings (wrangler.toml)');
      consumer = {
        env,
        run: createIndexConsumer({
          clip: kitOf(env),
          index: vectorizeIndexOf(env),
          images: env.IMAGES,
          ...(env.INDEX_DLQ ? { deadLetter: env.INDEX_DLQ } : {}),
        }),
      };
    }
    return consumer.run(batch);
  },
};
