// @ts-check
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'src/runtime/workers/public/**', 'models/**', '.cache/**', 'test-results/**', 'coverage/**', '**/*.py'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The core is Web-standard TypeScript: it must run unchanged in Workers, Node, Deno, Bun and browsers.
    files: ['src/core/**/*.ts', 'src/http/**/*.ts', 'src/index.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          // Exact names (not patterns): a pattern 'http' would also match the ./http/ folder.
          paths: ['fs', 'path', 'os', 'crypto', 'module', 'url', 'http', 'https', 'stream', 'child_process', 'worker_threads'].map((name) => ({
            name,
            message: 'Node built-ins belong in src/runtime/.',
          })),
          patterns: [
            { group: ['node:*'], message: 'src/core is Web-standard only: runtime I/O belongs in src/runtime/<runtime>/.' },
            { group: ['**/runtime/**'], message: 'The core must not depend on a runtime adapter.' },
            { group: ['onnxruntime-web', 'onnxruntime-web/*', 'onnxruntime-node'], message: 'Runtimes hand onnxruntime in (ortBackend); the core never imports a build.' },
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
  },
  {
    // Server adapters take bytes from ModelSources and bindings, never from a URL a client could
    // choose; `clip-edge pull` (operator-given hub URL) and the browser page are the exceptions.
    files: ['src/runtime/node/**/*.ts', 'src/runtime/deno/**/*.ts', 'src/runtime/bun/**/*.ts', 'src/runtime/workers/**/*.ts'],
    ignores: ['src/runtime/node/pull.ts'],
    rules: {
      'no-restricted-globals': ['error', { name: 'fetch', message: 'No outbound fetch in the server adapters (SSRF): read through a ModelSource or a binding.' }],
    },
  },
);
