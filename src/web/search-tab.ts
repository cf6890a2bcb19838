// The "Search my photos" tab (UI thread): photos picked or taken on the device are embedded in the
// inference worker and kept in its index (src/web/photos.ts); search by text or by tapping a photo.
import type { Photo, PhotoFailure, PhotoMatch, PhotosReply, PhotosRequest, ReadyInfo } from './protocol.ts';

export interface SearchTabDeps {
  /** Sends a request to the inference worker (waits until the model is ready). */
  photos(request: PhotosRequest, transfer?: Transferable[]): Promise<PhotosReply>;
  /** A message people can act on, from an error code of the core and its message. */
  explain(code: string, message: string): string;
}

/** Files sent to the worker at a time: bounds memory with hundreds of camera photos picked at once. */
const CHUNK = 8;
/** Thumbnails: the longer side in CSS pixels ×2, JPEG (a few KB, kept in the index's metadata). */
const THUMB_PX = 96;
const TOP_K = 8;

const explainError = (deps: SearchTabDeps, e: unknown) =>
  deps.explain((e as { code?: string }).code ?? 'INTERNAL', e instanceof Error ? e.message : String(e));

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** A small JPEG data URL of the photo, or undefined when the browser cannot draw it. */
async function thumbnail(file: Blob): Promise<string | undefined> {
  try {
    const bmp = await createImageBitmap(file);
    const s = Math.min(1, THUMB_PX / Math.max(bmp.width, bmp.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(bmp.width * s));
    canvas.height = Math.max(1, Math.round(bmp.height * s));
    canvas.getContext('2d')!.drawImage(bmp, 0, 0, canvas.width, canvas.height);
    bmp.close();
    return canvas.toDataURL('image/jpeg', 0.7);
  } catch {
    return undefined;
  }
}

function photoFigure(p: Photo): HTMLElement[] {
  const img = document.createElement('img');
  img.alt = '';
  if (p.thumb) img.src = p.thumb;
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = p.name;
  return [img, name];
}

/** The tab's elements (src/web/index.html). */
function searchTabUi() {
  return {
    tabs: [$<HTMLButtonElement>('tab-classify'), $<HTMLButtonElement>('tab-search')],
    panels: [$('panel-classify'), $('panel-search')],
    add: $<HTMLButtonElement>('add-photos'),
    file: $<HTMLInputElement>('photos-file'),
    clear: $<HTMLButtonElement>('clear-photos'),
    status: $('photos-status'),
    failures: $<HTMLUListElement>('photo-failures'),
    form: $<HTMLFormElement>('search-form'),
    query: $<HTMLInputElement>('query'),
    submit: $<HTMLButtonElement>('search-text'),
    textHint: $('text-hint'),
    error: $('search-error'),
    matches: $<HTMLOListElement>('matches'),
    meta: $('search-meta'),
    gallery: $<HTMLUListElement>('gallery'),
  };
}

/** Tabs: a plain tablist; the chosen tab is kept in the address (#search) across reloads. */
function bindTabs(tabs: HTMLButtonElement[], panels: HTMLElement[]): void {
  const show = (i: number) => {
    tabs.forEach((t, j) => {
      t.setAttribute('aria-selected', String(i === j));
      t.classList.toggle('secondary', i !== j);
      t.tabIndex = i === j ? 0 : -1;
    });
    panels.forEach((p, j) => (p.hidden = i !== j));
    history.replaceState(null, '', i === 1 ? '#search' : location.pathname + location.search);
  };
  tabs.forEach((t, i) => t.addEventListener('click', () => show(i)));
  tabs.forEach((t, i) =>
    t.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      const next = (i + 1) % 2;
      show(next);
      tabs[next]!.focus();
    }),
  );
  if (location.hash === '#search') show(1);
}

/** The gallery: a button per photo (newest first) that searches for photos like it. */
function galleryItems(photos: Photo[], pick: (p: Photo) => void): HTMLLIElement[] {
  return photos.reverse().map((p) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'photo';
    b.dataset.id = p.id;
    b.setAttribute('aria-label', `Find photos like ${p.name}`);
    b.append(...photoFigure(p));
    b.addEventListener('click', () => pick(p));
    li.append(b);
    return li;
  });
}

/** Matches, best first, with their cosine similarity. */
function matchItems(matches: PhotoMatch[]): HTMLLIElement[] {
  return matches.map((m) => {
    const li = document.createElement('li');
    li.dataset.id = m.id;
    li.dataset.name = m.name;
    li.dataset.score = String(m.score);
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = m.score.toFixed(3);
    li.append(...photoFigure(m), score);
    return li;
  });
}

/** Files that could not be added, each with what to do about it. */
function failureItems(failed: PhotoFailure[], deps: SearchTabDeps): HTMLLIElement[] {
  return failed.map((f) => {
    const li = document.createElement('li');
    li.dataset.name = f.name;
    li.dataset.code = f.code;
    li.textContent = `${f.name}: ${deps.explain(f.code, f.message)}`;
    return li;
  });
}

/** Reads a chunk of picked files (bytes and a thumbnail); one that cannot be read goes to `failed`. */
async function readFiles(files: File[], failed: PhotoFailure[]) {
  const read = await Promise.all(
    files.map(async (f) => {
      try {
        return { name: f.name, image: await f.arrayBuffer(), ...(await thumbnail(f).then((t) => (t ? { thumb: t } : {}))) };
      } catch (e) {
        failed.push({ name: f.name, code: 'BAD_INPUT', message: `the file cannot be read (${String(e)})` });
        return undefined;
      }
    }),
  );
  return read.filter((x) => x !== undefined);
}

/** Sends picked files to the worker a chunk at a time: how many were added, and the files that were not. */
async function sendPhotos(deps: SearchTabDeps, files: File[], status: (text: string) => void): Promise<{ added: number; failed: PhotoFailure[] }> {
  const failed: PhotoFailure[] = [];
  let added = 0;
  for (let i = 0; i < files.length; i += CHUNK) {
    status(`Adding photos: ${i} of ${files.length}…`);
    const chunk = files.slice(i, i + CHUNK);
    const items = await readFiles(chunk, failed);
    if (!items.length) continue;
    try {
      const r = await deps.photos({ op: 'add', files: items }, items.map((x) => x.image));
      if (r.op !== 'add') continue;
      added += r.added.length;
      failed.push(...r.failed);
    } catch (e) {
      // The whole chunk was refused (e.g. the stored index cannot be read): every file in it says so.
      const code = (e as { code?: string }).code ?? 'INTERNAL';
      failed.push(...items.map((x) => ({ name: x.name, code, message: e instanceof Error ? e.message : String(e) })));
    }
  }
  return { added, failed };
}

export function createSearchTab(deps: SearchTabDeps): { ready(info: ReadyInfo): void } {
  const ui = searchTabUi();
  const panel = ui.panels[1]!;
  let count = 0;
  let textLoaded = false;

  // One request at a time, in order; `data-busy` on the panel counts them (tests wait on it).
  let queue = Promise.resolve();
  let inflight = 0;
  const run = (job: () => Promise<void>) => {
    panel.dataset.busy = String(++inflight);
    queue = queue.then(job).catch((e: unknown) => {
      ui.error.textContent = explainError(deps, e);
    }).finally(() => (panel.dataset.busy = String(--inflight)));
    return queue;
  };

  const showCount = (n: number) => {
    count = n;
    panel.dataset.count = String(n);
    ui.clear.disabled = n === 0;
  };

  function renderGallery(photos: Photo[]) {
    ui.gallery.replaceChildren(...galleryItems(photos, (p) => void run(() => searchBy({ op: 'search-photo', photoId: p.id, topK: TOP_K }, `like ${p.name}`))));
    showCount(photos.length);
    ui.status.textContent = photos.length ? `${photos.length} photo${photos.length > 1 ? 's' : ''} on this device. Tap one to find similar photos.` : 'No photos yet: add some to search them.';
  }

  const refresh = async () => {
    const r = await deps.photos({ op: 'list' });
    if (r.op === 'list') renderGallery(r.photos);
  };

  function renderMatches(matches: PhotoMatch[]) {
    ui.matches.replaceChildren(...matchItems(matches));
  }

  async function searchBy(request: PhotosRequest, what: string) {
    ui.error.textContent = '';
    if (request.op === 'search-text' && !textLoaded) ui.meta.textContent = 'Loading the text encoder (first text search only; then it is cached)…';
    const r = await deps.photos(request);
    if (r.op !== 'search-text' && r.op !== 'search-photo') return;
    if (r.op === 'search-text') textLoaded = true;
    renderMatches(r.matches);
    ui.meta.textContent = r.count ? `${r.matches.length} best of ${r.count} for ${what} · cosine similarity · ${Math.round(r.ms)} ms` : 'No photos yet: add some to search them.';
  }

  async function addPhotos(files: File[]) {
    ui.error.textContent = '';
    const { added, failed } = await sendPhotos(deps, files, (text) => (ui.status.textContent = text));
    ui.failures.replaceChildren(...failureItems(failed, deps));
    await refresh();
    const notRead = failed.length ? ` ${failed.length} file${failed.length > 1 ? 's' : ''} could not be added (below).` : '';
    ui.status.textContent = `Added ${added} photo${added === 1 ? '' : 's'}; ${count} on this device.${notRead}`;
  }

  bindTabs(ui.tabs, ui.panels);

  ui.add.addEventListener('click', () => ui.file.click());
  ui.file.addEventListener('change', () => {
    const files = [...(ui.file.files ?? [])];
    ui.file.value = '';
    if (files.length) void run(() => addPhotos(files));
  });
  ui.form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = ui.query.value.trim();
    if (!text) {
      ui.error.textContent = 'Type what to look for, e.g. "a red circle".';
      return;
    }
    void run(() => searchBy({ op: 'search-text', text, topK: TOP_K }, `"${text}"`));
  });
  ui.clear.addEventListener('click', () => {
    if (!confirm(`Remove all ${count} photos from this device's search index? (The photos themselves are not touched.)`)) return;
    void run(async () => {
      await deps.photos({ op: 'clear' });
      ui.matches.replaceChildren();
      ui.meta.textContent = '';
      ui.failures.replaceChildren();
      await refresh();
    });
  });
  ui.status.textContent = 'The model is loading…';

  return {
    ready(info) {
      ui.query.disabled = ui.submit.disabled = !info.hasText;
      ui.textHint.textContent = info.hasText
        ? 'Text search loads the text encoder the first time.'
        : `${info.model} has no text encoder, so it cannot search by text: tap a photo below to find similar ones.`;
      void run(refresh);
    },
  };
}
