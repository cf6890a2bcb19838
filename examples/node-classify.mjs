// Zero-shot classify one image from plain Node.js (no TypeScript, no loader flags):
//   node node-classify.mjs photo.jpg "red circle,blue star,green heart" [model]
// model: nothing (the bundled demo model), a folder, or a Hugging Face id such as
// Xenova/clip-vit-base-patch32 (pulled into ~/.cache/clip-edge/models on first use, with progress).
import { createPullProgress, loadClipEdge } from 'clip-edge/node';

const [image = 'photo.jpg', labels = 'red circle,blue star,green heart', model] = process.argv.slice(2);
const progress = createPullProgress();
try {
  const clip = await loadClipEdge(model, { onProgress: progress.onProgress });
  const r = await clip.classify(image, { labels: labels.split(','), topK: 3 });
  console.log(JSON.stringify({ model: r.model, backend: r.backend, results: r.results }));
} finally {
  progress.stop();
}
