/**
 * A self-contained API docs page: renders /openapi.json and lets you try each route.
 * Hand-written because the usual viewers (Swagger UI, Scalar) load their code from a CDN at run
 * time, which an offline or locked-down deployment cannot do.
 */
export const docsPage = (): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>clip-edge API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111;background:#fff}
h1{font-size:1.5rem}section{border:1px solid #ccc;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}
.m{font-weight:700;display:inline-block;min-width:4rem}.get{color:#05662e}.post{color:#0b4f9c}
label{display:block;margin:.3rem 0}input[type=text]{width:100%;box-sizing:border-box}
pre{background:#f4f4f4;padding:.5rem;overflow:auto;max-height:20rem}button{margin-top:.4rem}
</style></head><body>
<h1>clip-edge API</h1>
<p>OpenAPI document: <a href="openapi.json">openapi.json</a>. Errors are <code>{"error": {"code", "message"}}</code>.</p>
<label>API key (if the server has one) <input type="text" id="key" autocomplete="off"></label>
<div id="ops">Loading…</div>
<script>
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
fetch('openapi.json').then((r) => r.json()).then((doc) => {
  const ops = document.getElementById('ops'); ops.textContent = '';
  for (const [path, item] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(item)) {
    const s = document.createElement('section');
    const params = (op.parameters || []).map((p) => '<label>' + esc(p.name) + ' <small>' + esc(p.description || '') + '</small><input type="text" name="' + esc(p.name) + '"></label>').join('');
    const body = op.requestBody ? (op.requestBody.content['application/json']
      ? '<label>JSON body<textarea name="_json" rows="3" style="width:100%">{"texts": ["a photo of a cat"]}</textarea></label>'
      : '<label>Image <input type="file" name="_file" accept="image/*"></label>') : '';
    s.innerHTML = '<div><span class="m ' + method + '">' + method.toUpperCase() + '</span> <code>' + esc(path) + '</code> — ' + esc(op.summary || '') + '</div>'
      + '<form>' + params + body + '<button type="submit">Send</button></form><pre hidden></pre>';
    s.querySelector('form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = ev.target, out = s.querySelector('pre'); out.hidden = false; out.textContent = '…';
      const q = new URLSearchParams();
      for (const p of op.parameters || []) { const v = f.elements[p.name].value.trim(); if (v) q.append(p.name, v); }
      const headers = {}; const key = document.getElementById('key').value.trim(); if (key) headers.Authorization = 'Bearer ' + key;
      let body;
      if (f.elements._json) { body = f.elements._json.value; headers['Content-Type'] = 'application/json'; }
      if (f.elements._file && f.elements._file.files[0]) { body = f.elements._file.files[0]; headers['Content-Type'] = body.type || 'application/octet-stream'; }
      const res = await fetch(path.slice(1) + (q.size ? '?' + q : ''), { method: method.toUpperCase(), headers, body });
      out.textContent = res.status + ' ' + res.statusText + '\\n' + JSON.stringify(await res.json().catch(() => null), null, 2);
    });
    ops.append(s);
  }
}).catch((e) => { document.getElementById('ops').textContent = 'Could not load openapi.json: ' + e; });
</script></body></html>`;
