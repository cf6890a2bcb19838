/** The OpenAPI 3.1 description of the HTTP API (served at /openapi.json, rendered at /docs). */

const error = {
  description: 'Error',
  content: {
    'application/json': {
      schema: { $ref: '#/components/schemas/Error' },
    },
  },
};

const classifyParams = [
  { name: 'labels', in: 'query', description: 'Class names: repeat the parameter (taken verbatim) or give one comma-separated value.', schema: { type: 'array', items: { type: 'string' } }, style: 'form', explode: true },
  { name: 'labelSet', in: 'query', description: 'Name of a stored label set (see GET /v1/label-sets). Use instead of labels.', schema: { type: 'string' } },
  { name: 'templates', in: 'query', description: 'Prompt templates with {} for the class name (repeat for several). Default: the label set\'s, or the model\'s.', schema: { type: 'array', items: { type: 'string' } }, style: 'form', explode: true },
  { name: 'topK', in: 'query', description: 'How many classes to return (default 5).', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
];

const imageBody = (withFields: boolean) => ({
  required: true,
  description: 'The image (JPEG, PNG or WebP) as the raw body, or as the "image" field of a multipart form.',
  content: {
    'image/*': { schema: { type: 'string', format: 'binary' } },
    'multipart/form-data': {
      schema: {
        type: 'object',
        required: ['image'],
        properties: {
          image: { type: 'string', format: 'binary' },
          ...(withFields
            ? {
                labels: { type: 'array', items: { type: 'string' } },
                labelSet: { type: 'string' },
                templates: { type: 'array', items: { type: 'string' } },
                topK: { type: 'integer' },
              }
            : {}),
        },
      },
    },
  },
});

/** Load shedding (429 RATE_LIMITED; 503 OVERLOADED, TIMEOUT) says when to come back. */
const retryable = { ...error, headers: { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } } } };

const errors = { 400: error, 401: error, 413: error, 415: error, 429: retryable, 500: error, 503: retryable };

export function openApiDocument(serverUrl?: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'clip-edge',
      version: '0.1.0',
      description: 'Zero-shot image classification and CLIP embeddings. Errors are JSON: {"error": {"code", "message"}}.',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Needed when the server has an API key.' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
        },
        Timings: {
          type: 'object',
          properties: {
            decodeMs: { type: 'number' }, preprocessMs: { type: 'number' }, inferenceMs: { type: 'number' },
            textMs: { type: 'number' }, totalMs: { type: 'number' },
          },
        },
        ClassifyResult: {
          type: 'object',
          properties: {
            model: { type: 'string' },
            variant: { type: 'object', properties: { vision: { type: 'string' }, text: { type: 'string' } } },
            backend: { type: 'string' },
            labelSet: { type: 'string' },
            results: {
              type: 'array',
              items: { type: 'object', properties: { label: { type: 'string' }, score: { type: 'number', description: 'softmax probability' }, logit: { type: 'number' } } },
            },
            image: {
              type: 'object',
              properties: {
                width: { type: 'integer' },
                height: { type: 'integer' },
                decode: { type: 'string', enum: ['exact', 'dct-1/2', 'dct-1/4', 'dct-1/8'], description: 'exact (PIL\'s pixels) or DCT-scaled JPEG decoding (memory-capped runtimes)' },
              },
            },
            timings: { $ref: '#/components/schemas/Timings' },
          },
        },
      },
    },
    security: [{ bearer: [] }, {}],
    paths: {
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { 200: { description: 'OK' } } } },
      '/v1/models': { get: { summary: 'The loaded model: variants, sizes, backend in use', responses: { 200: { description: 'Models' }, ...errors } } },
      '/v1/load': {
        get: {
          summary: 'The in-flight limit of this process / isolate: slots held now, the limit, slots admitted and released since start',
          responses: { 200: { description: 'inFlight, maxInFlight, requestTimeoutMs, admitted, released, abandoned' }, ...errors },
        },
      },
      '/v1/label-sets': { get: { summary: 'Names of stored label sets', responses: { 200: { description: 'Label set names' }, ...errors } } },
      '/v1/classify': {
        post: {
          summary: 'Zero-shot classification of one image',
          parameters: classifyParams,
          requestBody: imageBody(true),
          responses: { 200: { description: 'Top-k classes', content: { 'application/json': { schema: { $ref: '#/components/schemas/ClassifyResult' } } } }, 404: error, 422: error, ...errors },
        },
      },
      '/v1/embed/image': {
        post: {
          summary: 'L2-normalised image embedding',
          requestBody: imageBody(false),
          responses: { 200: { description: 'Embedding' }, ...errors },
        },
      },
      '/v1/embed/text': {
        post: {
          summary: 'L2-normalised text embeddings',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { type: 'object', required: ['texts'], properties: { texts: { type: 'array', items: { type: 'string' }, minItems: 1 } } } } },
          },
          responses: { 200: { description: 'Embeddings' }, 422: error, ...errors },
        },
      },
    },
  };
}
