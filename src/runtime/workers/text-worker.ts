// The text Worker's entry (wrangler.text.toml `main`): CLIP's text tower behind a Workers RPC method,
// called by the vision Worker over a service binding ([[services]] binding = "TEXT"). No public route.
import { WorkerEntrypoint } from 'cloudflare:workers';
import type { TextServiceReply, TextServiceRequest } from '../../core/remote-text.ts';
import type { WorkersEnv } from './bindings.ts';
import { type TextServiceInfo, createTextService } from './text-service.ts';

let service: { env: WorkersEnv; value: ReturnType<typeof createTextService> } | undefined;
/** Calls and texts this isolate has served (reported by `info()`: logs and tests). */
const served = { calls: 0, texts: 0 };

/** One service per isolate (a failed load is retried by the next call). */
function serviceOf(env: WorkersEnv): ReturnType<typeof createTextService> {
  if (service?.env !== env) {
    const value = createTextService(env);
    value.catch(() => {
      if (service?.value === value) service = undefined;
    });
    service = { env, value };
  }
  return service.value;
}

/** `[[services]] binding = "TEXT", service = "clip-edge-text", entrypoint = "TextTower"` in the vision Worker's wrangler.toml. */
export class TextTower extends WorkerEntrypoint<WorkersEnv> {
  /** Raw text embeddings of `texts` (≤ 256, ≤ 1 MiB), or a refusal when the caller serves another model. */
  async embedTexts(texts: string[], request: TextServiceRequest): Promise<TextServiceReply> {
    served.calls++;
    served.texts += Array.isArray(texts) ? texts.length : 0;
    return (await serviceOf(this.env)).embedTexts(texts, request);
  }

  /** Which model and text encoder this Worker serves (sha256 of its manifest and of the text encoder file), and what this isolate has served. */
  async info(): Promise<TextServiceInfo & { calls: number; texts: number }> {
    return { ...(await (await serviceOf(this.env)).info()), ...served };
  }
}

export default {
  fetch(): Response {
    return Response.json({ error: { code: 'NOT_FOUND', message: 'the clip-edge text Worker has no public routes: bind it to the vision Worker as a service (entrypoint TextTower)' } }, { status: 404 });
  },
};
