import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/clip.ts';

// The layer rules of eslint.config.js, run on fixture sources placed (virtually) in each folder:
// every forbidden import fails with its rule's message, and the allowed direction passes.
const eslint = new ESLint({ cwd: REPO_ROOT });

async function messages(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-globals').map((m) => m.message);
}

describe('import boundaries (npx eslint .)', () => {
  it.each([
    ['core ↛ runtime', 'src/core/fixture.ts', "import { fsModelSource } from '../runtime/fs/model-source.ts';", /must not depend on a runtime adapter/],
    ['core ↛ http', 'src/core/model/fixture.ts', "import { STATUS_OF } from '../../http/errors.ts';", /core ↛ http/],
    ['core ↛ node:*', 'src/core/fixture.ts', "import { readFile } from 'node:fs/promises';", /Web-standard/],
    ['core ↛ an ORT build', 'src/core/fixture.ts', "import * as ort from 'onnxruntime-web';", /hand onnxruntime in/],
    ['http ↛ runtime', 'src/http/fixture.ts', "import { serveNode } from '../runtime/node/serve.ts';", /HTTP layer must not depend on a runtime adapter/],
    ['http ↛ quantize', 'src/http/fixture.ts', "import { quantizeModelFolder } from '../../quantize/folder.ts';", /must not import tools/],
    ['runtime ↛ web page code', 'src/runtime/workers/fixture.ts', "import { PAGE } from '../../web/app.ts';", /runtime ↛ web page code/],
    ['runtime ↛ cli', 'src/runtime/node/fixture.ts', "import { main } from '../../cli/main.ts';", /adapters only adapt/],
    ['quantize ↛ runtime', 'quantize/fixture.ts', "import { nodeImageCodecs } from '../src/runtime/fs/codecs.ts';", /quantize ↛ runtime/],
    ['a portable index driver ↛ node:*', 'src/search/drivers/fixture.ts', "import { readFile } from 'node:fs/promises';", /Web-standard/],
    ['a runtime-named index driver ↛ http', 'src/search/drivers/node-fixture.ts', "import { STATUS_OF } from '../../http/errors.ts';", /search ↛ http/],
    ['a runtime-named index driver ↛ runtime', 'src/search/drivers/browser-fixture.ts', "import { fsModelSource } from '../../runtime/fs/model-source.ts';", /must not depend on a runtime adapter/],
    ['quantize/verify ↛ runtime', 'quantize/verify/fixture.ts', "import { fsModelSource } from '../../src/runtime/fs/model-source.ts';", /quantize ↛ runtime/],
  ])('%s fails', async (_, file, code, message) => {
    expect(await messages(file, `${code}\nexport {};\n`)).toEqual([expect.stringMatching(message)]);
  });

  it.each([
    ['http → core', 'src/http/fixture.ts', "import { ClipEdgeError } from '../core/errors.ts';"],
    ['runtime → http and core', 'src/runtime/node/fixture.ts', "import { createClipApp } from '../../http/app.ts';\nimport { ClipEdgeError } from '../../core/errors.ts';"],
    ['quantize → core (model layer)', 'quantize/fixture.ts', "import { parseManifest } from '../src/core/model/manifest.ts';"],
    ['the page → runtime/browser', 'src/web/fixture.ts', "import { createBrowserClipEdge } from '../runtime/browser/create.ts';"],
    // By file name, with no edit to eslint.config.js: a new driver named for its runtime may use it.
    ['an index driver named node-*.ts → node:*', 'src/search/drivers/node-fixture.ts', "import { readFile } from 'node:fs/promises';"],
    ['an index driver named browser-*.ts → caches', 'src/search/drivers/browser-fixture.ts', 'export const c = caches;'],
    ['cli → runtime and quantize', 'src/cli/fixture.ts', "import { serveNode } from '../runtime/node/serve.ts';\nimport { quantizeModelFolder } from '../../quantize/folder.ts';"],
  ])('%s passes', async (_, file, code) => {
    expect(await messages(file, `${code}\nexport {};\n`)).toEqual([]);
  });
});
