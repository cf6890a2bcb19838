/** The search routes' part of the OpenAPI document (merged into /openapi.json by openapi.ts). */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ 'application/json': { schema } });
const errorResponse = { description: 'Error', content: json(ref('Error')) };

export const searchSchemas = {
  Match: {
    type: 'object',
    required: ['id', 'score'],
    properties: { id: { type: 'string' }, score: { type: 'number', description: 'cosine similarity' }, metadata: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } } },
  },
  SearchResult: {
    type: 'object',
    properties: {
      model: { type: 'string' },
      matches: { type: 'array', items: ref('Match') },
      timings: { type: 'object', properties: { embedMs: { type: 'number' }, searchMs: { type: 'number' }, totalMs: { type: 'number' } } },
    },
  },
  Filter: {
    type: 'object',
    description: 'Vectorize\'s filter language on the index\'s declared fields: {"field": value} (equality) or {"field": {"$eq"|"$ne"|"$lt"|"$lte"|"$gt"|"$gte": value, "$in"|"$nin": [values]}}; fields are ANDed.',
    additionalProperties: true,
  },
};

export function searchPaths(errors: Record<number, object>): Record<string, object> {
  const filterParam = { name: 'filter', in: 'query', description: 'A Filter as JSON', schema: { type: 'string' } };
  const topKParam = { name: 'topK', in: 'query', description: 'Matches to return (default 10; the index driver may allow fewer, e.g. 20 with metadata on Vectorize)', schema: { type: 'integer', minimum: 1 } };
  return {
    '/v1/index': {
      post: {
        summary: 'Embed images and add them to the search index (id defaults to the sha256 of the bytes; an existing id is replaced)',
        parameters: [
          { name: 'id', in: 'query', description: 'Id of the image (raw body only); at most 64 bytes', schema: { type: 'string' } },
          { name: 'metadata', in: 'query', description: 'Metadata as a JSON object of strings, numbers and booleans (raw body only)', schema: { type: 'string' } },
        ],
        requestBody: {
          required: true,
          description: 'One image as the raw body, or up to 64 "image" fields of a multipart form with optional "id" and "metadata" fields in the same order. A bad image fails the request and nothing is written.',
          content: {
            'image/*': { schema: { type: 'string', format: 'binary' } },
            'multipart/form-data': {
              schema: { type: 'object', required: ['image'], properties: { image: { type: 'array', items: { type: 'string', format: 'binary' } }, id: { type: 'array', items: { type: 'string' } }, metadata: { type: 'array', items: { type: 'string' } } } },
            },
          },
        },
        responses: {
          200: { description: 'Indexed', content: json({ type: 'object', properties: { model: { type: 'string' }, ids: { type: 'array', items: { type: 'string' } }, count: { type: 'integer' } } }) },
          404: errorResponse,
          409: { ...errorResponse, description: 'The index holds another model\'s vectors' },
          ...errors,
        },
      },
    },
    '/v1/index/{id}': {
      delete: {
        summary: 'Remove an image from the search index',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 200: { description: 'Deleted', content: json({ type: 'object', properties: { deleted: { type: 'string' } } }) }, 404: errorResponse, ...errors },
      },
    },
    '/v1/search': {
      post: {
        summary: 'Search the index by text ({"text": …}) or by an image (more like this one)',
        parameters: [topKParam, filterParam],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { type: 'object', required: ['text'], properties: { text: { type: 'string' }, topK: { type: 'integer', minimum: 1 }, filter: ref('Filter'), includeMetadata: { type: 'boolean' } } },
            },
            'image/*': { schema: { type: 'string', format: 'binary' } },
            'multipart/form-data': { schema: { type: 'object', required: ['image'], properties: { image: { type: 'string', format: 'binary' }, topK: { type: 'integer' }, filter: { type: 'string' } } } },
          },
        },
        responses: { 200: { description: 'Matches, best first', content: json(ref('SearchResult')) }, 404: errorResponse, 409: errorResponse, 422: errorResponse, ...errors },
      },
    },
  };
}
