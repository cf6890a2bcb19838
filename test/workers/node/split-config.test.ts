import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { splitConfigs } from '../../../scripts/workers-split-config.ts';
import { readWranglerToml } from '../../../scripts/workers-upload.ts';
import { REPO_ROOT } from '../../helpers/clip.ts';

// `npm run workers:split-config`: the part Workers' configs and the vision Worker's, from the repository's own templates.
const visionToml = readFileSync(path.join(REPO_ROOT, 'wrangler.toml'), 'utf8');
const partToml = readFileSync(path.join(REPO_ROOT, 'wrangler.vision-part.toml'), 'utf8');
const services = (t: string) => [...t.matchAll(/\[\[services\]\]\nbinding = "(\w+)"\nservice = "([^"]+)"\nentrypoint = "(\w+)"/g)].map((m) => m.slice(1));

describe('workers:split-config', () => {
  it('chains N part Workers (each its part number and NEXT_PART, the last none) behind the vision Worker\'s VISION_PARTS', () => {
    const c = splitConfigs({ visionToml, partToml, model: 'vit-l-14-random', parts: 4, rel: (p) => `../../${p}` });
    expect(c.parts).toHaveLength(4);
    c.parts.forEach((t, i) => {
      const vars = readWranglerToml(t).vars;
      expect(t).toMatch(new RegExp(`^name = "clip-edge-vision-part-${i + 1}"$`, 'm'));
      expect(t).toMatch(/^main = "\.\.\/\.\.\/src\/runtime\/workers\/vision-part-worker\.ts"$/m);
      expect(vars).toMatchObject({ CLIP_EDGE_MODEL: 'vit-l-14-random', CLIP_EDGE_VISION_PART: String(i + 1) });
      expect(services(t)).toEqual(i < 3 ? [['NEXT_PART', `clip-edge-vision-part-${i + 2}`, 'VisionPart']] : []);
    });
    expect(readWranglerToml(c.vision).vars.CLIP_EDGE_MODEL).toBe('vit-l-14-random');
    expect(c.vision).toMatch(/^main = "\.\.\/\.\.\/src\/runtime\/workers\/worker\.ts"$/m);
    expect(c.vision).toMatch(/^directory = "\.\.\/\.\.\/src\/runtime\/workers\/public"$/m);
    expect(services(c.vision)).toContainEqual(['VISION_PARTS', 'clip-edge-vision-part-1', 'VisionPart']);
  });

  it('the template is the first part of a chain: named part 1, bound to part 2', () => {
    expect(readWranglerToml(partToml).vars.CLIP_EDGE_VISION_PART).toBe('1');
    expect(services(partToml)).toEqual([['NEXT_PART', 'clip-edge-vision-part-2', 'VisionPart']]);
  });
});
