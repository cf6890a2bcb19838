// A Worker's own Hono app with clip-edge's routes under /clip (/clip/v1/classify, …);
// the kit is built on the first request, once per isolate, from the bindings.
import { Hono } from 'hono';
import { mount } from 'hono/mount';
import { createWorkersApp } from 'clip-edge/workers';

let clip;
const app = new Hono();
app.get('/', (c) => c.text('my worker, with CLIP under /clip\n'));
app.all('/clip/*', mount((request, env, ctx) => (clip ??= createWorkersApp(env)).fetch(request, env, ctx)));

export default app;
