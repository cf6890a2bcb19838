// npm run models:build -- <name>
//   vit-b-32-random  CLIP ViT-B/32's dimensions with random weights → models/vit-b-32-random (git-ignored)
//   tiny-clip        retrain the bundled model from scratch (~1 hour on 2 cores) → models/tiny-clip
//   prompts          rebuild the bundled model's prompt caches (models/tiny-clip/prompts; Node only, no Python)
// Needs Debian's python3-torch, python3-onnx, python3-pil, python3-numpy (and libopenblas0-pthread),
// run with /usr/bin/python3. CI never runs this.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
    console.error('usage: npm run models:build -- vit-b-32-random | tiny-clip | prompts');
    process.exit(2);
}
