// npm run models:build -- <name>
//   vit-b-32-random  CLIP ViT-B/32's dimensions with random weights → models/vit-b-32-random (git-ignored)
//   <card>-random    a model of OpenAI's card built by open_clip's own code at full shape, random weights
//                    (rn50 rn101 rn50x4 rn50x16 rn50x64 vit-b-16 vit-l-14 vit-l-14-336) → models/<card>-random
//                    (git-ignored), then checked against open_clip's PyTorch forward (cosine ≥ 0.99999)
//   openclip-fixtures  the small-width ResNet and ViT test fixtures → test/fixtures/openclip/{rn,vit}
//   tiny-clip        retrain the bundled model from scratch (~1 hour on 2 cores) → models/tiny-clip
//   prompts          rebuild the bundled model's prompt caches (models/tiny-clip/prompts; Node only, no Python)
// vit-b-32-random and tiny-clip need Debian's python3-torch, python3-onnx, python3-pil, python3-numpy
// (and libopenblas0-pthread), run with /usr/bin/python3 (CLIP_EDGE_PYTHON). The open_clip ones need a
// venv over those with open_clip_torch (CLIP_EDGE_OPENCLIP_PYTHON; docs/models.md). CI never runs this.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MIN_COSINE, checkAgainstOpenClip } from './openclip/check.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const recipe = path.join(here, 'tiny-clip');
const python = process.env.CLIP_EDGE_PYTHON ?? '/usr/bin/python3';
const name = process.argv[2];

const run = (args: string[]) => {
  console.error(`$ ${python} ${args.join(' ')}`);
  const r = spawnSync(python, args, { cwd: recipe, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

/** The label sets whose caches ship with the bundled model. */
const BUNDLED_PROMPTS = ['tiny-clip-shapes', 'cifar10', 'cifar100', 'imagenet', 'imagenet-7', 'food101'];

/** The card's models open_clip builds here (vit-b-32-random keeps its own recipe). */
const OPENCLIP_CARD = ['rn50', 'rn101', 'rn50x4', 'rn50x16', 'rn50x64', 'vit-b-16', 'vit-l-14', 'vit-l-14-336'];
const openclipPython = process.env.CLIP_EDGE_OPENCLIP_PYTHON ?? path.join(process.env.HOME ?? '', '.cache/clip-edge/venv-openclip/bin/python');

function runOpenClip(args: string[]) {
  const probe = spawnSync(openclipPython, ['-c', 'import open_clip, torch, torchvision, onnx, PIL, numpy; print(open_clip.__version__, torch.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.error(
      `${openclipPython} cannot import open_clip/torch/torchvision/onnx/PIL/numpy${probe.stderr ? `:\n${probe.stderr.trim().split('\n').pop()}` : ''}\n` +
        'Set CLIP_EDGE_OPENCLIP_PYTHON to a Python that has them; docs/models.md ("open_clip stand-ins") says how to make one.',
    );
    process.exit(1);
  }
  console.error(`open_clip ${probe.stdout.trim().replace(' ', ', torch ')} (${openclipPython})`);
  console.error(`$ ${openclipPython} ${args.join(' ')}`);
  const r = spawnSync(openclipPython, args, { cwd: path.join(here, 'openclip'), stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const card = name?.endsWith('-random') ? name.slice(0, -'-random'.length) : undefined;
if (card && OPENCLIP_CARD.includes(card)) {
  const dir = path.join(here, '..', name!);
  runOpenClip(['export.py', card, '--model-dir', dir]);
  console.error(`checking ${name} against open_clip's PyTorch outputs through clip-edge (fp32)…`);
  const r = await checkAgainstOpenClip(dir, 'auto');
  console.error(`${r.ok ? 'ok' : 'FAILED'}: min cosine images ${r.minImageCosine.toFixed(7)}${r.minTextCosine !== undefined ? `, texts ${r.minTextCosine.toFixed(7)}` : ''} (${r.backend}; ≥ 0.99999 required)`);
  // Kept beside the model for the model-card table (bench/model-card.ts).
  writeFileSync(path.join(dir, 'reference-check.json'), JSON.stringify({ ...r, minCosine: MIN_COSINE, checkedAt: new Date().toISOString() }, null, 2));
  if (!r.ok) process.exit(1);
  console.error(`next: npx clip-edge quantize models/${name} --variants int8 --ort int8 --towers vision --verify`);
  process.exit(0);
}
if (name === 'openclip-fixtures') {
  const fixtures = path.join(here, '..', '..', 'test', 'fixtures', 'openclip');
  runOpenClip(['export.py', '--small', 'rn', '--model-dir', path.join(fixtures, 'rn')]);
  runOpenClip(['export.py', '--small', 'vit', '--no-text', '--model-dir', path.join(fixtures, 'vit')]);
  console.error('now: npx vitest run test/core/openclip-export.test.ts');
  process.exit(0);
}

if (name === 'prompts') {
  for (const set of BUNDLED_PROMPTS) {
    const r = spawnSync(process.execPath, [path.join(here, '..', '..', 'bin', 'clip-edge.js'), 'prompts', 'build', '--labels', set], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  process.exit(0);
}

const check = spawnSync(python, ['-c', 'import torch, onnx, PIL, numpy'], { encoding: 'utf8' });
if (check.status !== 0) {
  console.error(`${python} lacks torch/onnx/PIL/numpy: apt-get install python3-torch python3-onnx python3-pil python3-numpy libopenblas0-pthread`);
  process.exit(1);
}

switch (name) {
  case 'vit-b-32-random':
    run(['export.py', '--random', 'vit-b-32', '--model-dir', path.join(here, '..', 'vit-b-32-random')]);
    break;
  case 'tiny-clip':
    run(['make_eval.py']);
    run(['train.py', '--out', 'work']);
    run(['export.py', '--checkpoint', path.join('work', 'checkpoint.pt')]);
    if (!existsSync(path.join(here, '..', 'tiny-clip', 'manifest.json'))) process.exit(1);
    // PyTorch's probabilities for the cross-runtime tests, from the files just exported.
    run(['reference.py']);
    console.error('now rebuild its prompt caches: npm run models:build -- prompts');
    break;
  default:
    console.error(`usage: npm run models:build -- vit-b-32-random | ${OPENCLIP_CARD.map((c) => `${c}-random`).join(' | ')} | openclip-fixtures | tiny-clip | prompts`);
    process.exit(2);
}
