// @ts-check
import tseslint from 'typescript-eslint';

/**
 * Index drivers allowed runtime APIs (node:*, Deno, Bun, Cache Storage) and native packages, by file
 * name: prefixed with the runtime they need, or the LanceDB family (its native package runs on Node,
 * Deno and Bun).
 */
const RUNTIME_DRIVERS = ['src/search/drivers/{node,deno,bun,browser,workers}-*.ts', 'src/search/drivers/lancedb*.ts'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.wrangler/**', 'src/runtime/workers/public/**', 'models/**', '.cache/**', 'test-results/**', 'coverage/**', '**/*.py'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  // ---- Layer boundaries (docs/architecture.md): arrows point down only. ----------------------------
  //   cli/, hub/, page-server/, runtime/<rt>/   adapters and Node tooling
  //   http/                                     Hono routes, schemas, errors, auth, limits, logs
  //   core/ (core/model/)                       CLIP logic, model folder schema, precision table
  //   quantize/                                 ONNX passes; gets its file source and codecs handed in
  // test/lint/boundaries.test.ts shows each rule failing on a forbidden import.
  webStandard('src/core/**/*.ts', 'src/core is Web-standard and the bottom layer', [
    { group: ['**/http/**', '**/http/*.ts'], message: 'core ↛ http: the core must not know about HTTP (src/http/ builds on the core).' },
    ...above('The core'),
  ]),
  webStandard(['src/http/**/*.ts', 'src/index.ts'], 'src/http is Web-standard: the same app on every runtime', above('The HTTP layer')),
  // The search seam is Web-standard; a driver that needs one runtime's APIs or a native package is
  // named for it (RUNTIME_DRIVERS: `node-pgvector.ts`, `browser-cache-storage.ts`, `lancedb*.ts`), and
  // only the Web-standard rules are lifted for it: the layer rules still hold. A new driver whose
  // name fits the pattern needs no edit here.
  {
    ...webStandard('src/search/**/*.ts', 'src/search is Web-standard: the index seam and portable drivers (a driver needing a runtime is named node-*.ts, browser-*.ts, …)', searchLayers()),
    ignores: RUNTIME_DRIVERS,
  },
  { files: RUNTIME_DRIVERS, rules: { 'no-restricted-imports': ['error', { patterns: searchLayers() }] } },
  {
    files: ['src/runtime/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/web/**', '**/web/*.ts'], message: 'runtime ↛ web page code: the page (src/web/) builds on src/runtime/browser, not the other way.' },
            { group: ['**/cli/**', '**/quantize/**'], message: 'runtime ↛ cli/quantize: adapters only adapt; tools sit above them.' },
          ],
        },
      ],
    },
  },
  {
    files: ['quantize/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/src/runtime/**', '**/src/cli/**', '**/src/http/**', '**/src/hub/**', '**/src/page-server/**', '**/src/web/**'],
              message: 'quantize ↛ runtime: take the file source and the image codecs as options (QuantizeFolderOptions.io); import only src/core.',
            },
          ],
        },
      ],
    },
  },
  // Short functions: none over 100 lines (counting every line) in src/ and quantize/.
  {
    files: ['src/**/*.ts', 'quantize/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 100, skipBlankLines: false, skipComments: false, IIFEs: true }] },
  },
  {
    // Server adapters take bytes from ModelSources and bindings, never from a URL a client could
    // choose; `clip-edge pull` (src/hub/, operator-given hub URL) and the browser page are the exceptions.
    files: ['src/runtime/fs/**/*.ts', 'src/runtime/node/**/*.ts', 'src/runtime/deno/**/*.ts', 'src/runtime/bun/**/*.ts', 'src/runtime/workers/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', { name: 'fetch', message: 'No outbound fetch in the server adapters (SSRF): read through a ModelSource or a binding.' }],
    },
  },
);


/** What src/search must not import, drivers included. */
function searchLayers() {
  return [
    { group: ['**/http/**', '**/http/*.ts'], message: 'search ↛ http: routes build on the search seam, not the other way.' },
    ...above('The search seam'),
  ];
}

/** Imports a lower layer must not make: everything that sits above it. */
function above(who) {
  return [
    { group: ['**/runtime/**'], message: `${who} must not depend on a runtime adapter (src/runtime/).` },
    { group: ['**/cli/**', '**/hub/**', '**/page-server/**', '**/web/**', '**/quantize/**'], message: `${who} must not import tools or the page (cli, hub, page-server, web, quantize).` },
  ];
}

/** Web-standard TypeScript: it must run unchanged in Workers, Node, Deno, Bun and browsers. */
function webStandard(files, why, layerPatterns) {
  return {
    files: Array.isArray(files) ? files : [files],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          // Exact names (not patterns): a pattern 'http' would also match the ./http/ folder.
          paths: ['fs', 'path', 'os', 'crypto', 'module', 'url', 'http', 'https', 'stream', 'child_process', 'worker_threads'].map((name) => ({
            name,
            message: `Node built-ins belong in src/runtime/ (${why}).`,
          })),
          patterns: [
            { group: ['node:*'], message: `${why}: runtime I/O belongs in src/runtime/<runtime>/.` },
            { group: ['onnxruntime-web', 'onnxruntime-web/*', 'onnxruntime-node'], message: 'Runtimes hand onnxruntime in (ortBackend); the core never imports a build.' },
            ...layerPatterns,
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'Deno', message: 'Deno-specific code belongs in src/runtime/deno/.' },
        { name: 'Bun', message: 'Bun-specific code belongs in src/runtime/bun/.' },
        { name: 'caches', message: 'Cache Storage belongs in a runtime adapter.' },
        { name: 'process', message: 'process is Node-only.' },
        { name: 'Buffer', message: 'Use Uint8Array.' },
        { name: 'require', message: 'ESM only.' },
        { name: '__dirname', message: 'Node-only.' },
        { name: 'fetch', message: 'The service never fetches URLs (SSRF): model bytes come through a runtime ModelSource.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'navigator', property: 'gpu', message: 'WebGPU detection belongs in src/runtime/browser/.' },
      ],
    },
  };
}
