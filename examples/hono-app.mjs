// Your own Hono app with clip-edge's routes mounted under /clip (the same routes `clip-edge serve`
// has: /clip/v1/classify, /clip/v1/embed/image, /clip/openapi.json, …):
//   npm i clip-edge @hono/node-server && node hono-app.mjs
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createClipApp, loadClipEdge } from 'clip-edge/node';

const clip = await loadClipEdge(); // the bundled model; a folder or a Hugging Face id for another
const app = new Hono();
app.get('/', (c) => c.text('my app, with CLIP under /clip\n'));
app.route('/clip', createClipApp({ clip }));

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}`);
});
