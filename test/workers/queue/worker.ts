// Test Worker around the production entry (src/runtime/workers/worker.ts): its fetch and queue
// handlers run unchanged; this file adds a VectorizeStandIn as VECTORIZE (shared by every event of
// the isolate), records what reaches the dead-letter queue, can crash the consumer once right after
// an upsert (before the acks: the hardest place for duplicates), and has /test/* routes to fill R2,
// enqueue keys and read the state.
import worker from '../../../src/runtime/workers/worker.ts';
import type { WorkersEnv } from '../../../src/runtime/workers/bindings.ts';
import type { MessageBatchLike } from '../../../src/runtime/workers/index-queue.ts';
import { VectorizeStandIn } from '../vectorize-stand-in.ts';

interface TestEnv extends WorkersEnv {
  MODELS: NonNullable<WorkersEnv['MODELS']>;
  IMAGES: NonNullable<WorkersEnv['IMAGES']>;
  INDEX_QUEUE: { sendBatch(messages: { body: unknown }[]): Promise<void> };
  STAND_IN_DIMENSIONS: string;
}

let standIn: VectorizeStandIn | undefined;
let crashAfterUpserts = 0;
let crashes = 0;
const deadLetters: unknown[] = [];
const deliveries: { queue: string; size: number }[] = [];
const envs = new WeakMap<object, WorkersEnv>();

/** The env the production handlers see (one object per env, so they keep their per-isolate state). */
function withVectorize(env: TestEnv): WorkersEnv {
  let e = envs.get(env);
  if (!e) {
    standIn ??= new VectorizeStandIn(Number(env.STAND_IN_DIMENSIONS));
    const vz = standIn;
    const crashing = {
      query: vz.query.bind(vz),
      getByIds: vz.getByIds.bind(vz),
      deleteByIds: vz.deleteByIds.bind(vz),
      describe: vz.describe.bind(vz),
      upsert: async (vectors: Parameters<VectorizeStandIn['upsert']>[0]) => {
        const r = await vz.upsert(vectors);
        if (crashAfterUpserts > 0) {
          crashAfterUpserts--;
          crashes++;
          throw new Error('injected consumer crash after an upsert, before the acks');
        }
        return r;
      },
    };
    e = { ...env, VECTORIZE: crashing };
    envs.set(env, e);
  }
  return e;
}

export default {
  async fetch(request: Request, env: TestEnv, ctx: unknown): Promise<Response> {
    const url = new URL(request.url);
    switch (url.pathname) {
      case '/test/ping':
        return Response.json({});
      case '/test/put': {
        const bucket = url.searchParams.get('bucket') === 'IMAGES' ? env.IMAGES : env.MODELS;
        await bucket.put(url.searchParams.get('key')!, await request.arrayBuffer());
        return Response.json({});
      }
      case '/test/enqueue': {
        // sendBatch takes at most 100 messages (Queues' documented limit).
        const bodies = (await request.json()) as unknown[];
        for (let i = 0; i < bodies.length; i += 100) await env.INDEX_QUEUE.sendBatch(bodies.slice(i, i + 100).map((body) => ({ body })));
        return Response.json({});
      }
      case '/test/crash': {
        crashAfterUpserts = Number(url.searchParams.get('times') ?? 1);
        return Response.json({});
      }
      case '/test/state': {
        withVectorize(env);
        const d = await standIn!.describe();
        const ids = url.searchParams.getAll('id');
        const found = ids.length ? await standIn!.getByIds(ids) : [];
        return Response.json({ vectorCount: d.vectorCount, calls: standIn!.calls, crashes, deadLetters, deliveries, found: found.map((v) => ({ id: v.id, metadata: v.metadata })) });
      }
    }
    return worker.fetch(request, withVectorize(env), ctx);
  },

  async queue(batch: MessageBatchLike & { ackAll(): void }, env: TestEnv): Promise<void> {
    deliveries.push({ queue: batch.queue, size: batch.messages.length });
    if (batch.queue === 'clip-edge-index-dlq') {
      for (const m of batch.messages) deadLetters.push(m.body);
      batch.ackAll();
      return;
    }
    return worker.queue(batch, withVectorize(env));
  },
};
