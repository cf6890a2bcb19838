import { loadClipEdge } from 'clip-edge/node';

const clip = await loadClipEdge(); // the bundled demo model; or a folder, or a Hugging Face id
const r = await clip.classify('photo.jpg', { labels: ['red circle', 'blue star', 'green heart'] });
console.log(r.results[0]); // { label: 'red circle', score: 0.99998…, logit: 12.09… }
