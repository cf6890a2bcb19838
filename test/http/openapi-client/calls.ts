// A client of the served OpenAPI document, as a user generates one: types by openapi-typescript
// (api.ts, generated next to this file by test/http/openapi-client.test.ts), requests by
// openapi-fetch, each operation found by its operationId in the document. Type-checked there with
// strict settings: an operationId missing from the document leaves `operations` without it, and
// this file does not compile.
import createClient from 'openapi-fetch';
import type { operations, paths } from './api.ts';

type OperationId = keyof operations;
/** The 200 JSON body of an operation, as the generated types describe it. */
export type Ok<O extends OperationId> = operations[O]['responses'][200]['content']['application/json'];
type Doc = { paths: Record<string, Record<string, { operationId?: string }>> };
type Method = 'get' | 'post' | 'delete';

export function clipClient(baseUrl: string, doc: Doc) {
  const client = createClient<paths>({ baseUrl });
  const route = (id: OperationId): { method: Method; path: string } => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) if (op.operationId === id) return { method: method as Method, path };
    }
    throw new Error(`no operation ${id} in the document`);
  };
  // openapi-fetch's request(method, path, init), typed per operation below; raw image bodies go as
  // they are (no JSON serialisation).
  const call = async <O extends OperationId>(id: O, init: { query?: Record<string, unknown>; body?: unknown; type?: string }): Promise<Ok<O>> => {
    const { method, path } = route(id);
    const binary = init.type !== undefined && init.type !== 'application/json';
    const r = await client.request(method as never, path as never, {
      params: { query: init.query },
      body: init.body,
      ...(init.type ? { headers: { 'content-type': init.type } } : {}),
      ...(binary ? { bodySerializer: (b: unknown) => b } : {}),
    } as never);
    const { data, error, response } = r as { data?: unknown; error?: unknown; response: Response };
    if (!response.ok) throw new Error(`${id}: HTTP ${response.status} ${JSON.stringify(error)}`);
    return data as Ok<O>;
  };
  return {
    classify: (image: Uint8Array, query: operations['classify']['parameters']['query']) => call('classify', { query, body: image, type: 'image/jpeg' }),
    embedImage: (image: Uint8Array) => call('embedImage', { body: image, type: 'application/octet-stream' }),
    embedText: (texts: string[]) => call('embedText', { body: { texts } satisfies operations['embedText']['requestBody']['content']['application/json'], type: 'application/json' }),
    indexImages: (image: Uint8Array, query: NonNullable<operations['indexImages']['parameters']['query']>) => call('indexImages', { query, body: image, type: 'image/jpeg' }),
    search: (body: operations['search']['requestBody']['content']['application/json']) => call('search', { body, type: 'application/json' }),
  };
}
