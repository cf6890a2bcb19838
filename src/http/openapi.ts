import type { OpenAPIObjectConfigure } from '@hono/zod-openapi';
import type { BlankEnv } from 'hono/types';
import { createClipOpenApiApp } from './app.ts'; // a cycle, used only at call time

/**
 * The OpenAPI 3.1 document's header. Its paths and schemas are generated from the zod route
 * schemas (routes.ts, schemas.ts) by @hono/zod-openapi.
 *
 * The server is `.` unless one is given: a URL relative to where the document was fetched from
 * (OpenAPI 3.1 §4.8.5), so the paths resolve under whatever base path the app is mounted at —
 * /clip/openapi.json means /clip/v1/classify — with no Host header copied into the document
 * (that would echo whatever a client, or a poisoned cache key, sent).
 */
export const openApiConfig = (serverUrl?: string): ReturnType<Extract<OpenAPIObjectConfigure<BlankEnv, string>, (...a: never[]) => unknown>> => ({
  openapi: '3.1.0',
  info: {
    title: 'clip-edge',
    version: '0.1.0',
    description: 'Zero-shot image classification and CLIP embeddings. Errors are JSON: {"error": {"code", "message"}}.',
    license: { name: 'MIT', url: 'https://opensource.org/license/mit' },
  },
  security: [{ bearer: [] }, {}],
  servers: [{ url: serverUrl ?? '.', description: serverUrl ? 'The server' : 'Relative to this document: the base path the API is served under' }],
});

/** The document /openapi.json serves, without a running server (e.g. to publish it). */
export function openApiDocument(serverUrl?: string): Record<string, unknown> {
  const app = createClipOpenApiApp({ clip: () => Promise.reject(new Error('no model: documentation only')) });
  return app.getOpenAPI31Document(openApiConfig(serverUrl)) as unknown as Record<string, unknown>;
}
