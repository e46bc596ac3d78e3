// Files: the private, shared and admin domains every service sees. Uploads
// use the resumable protocol (POST /uploads, then PATCH chunks), so each file
// shows its progress and can be paused, resumed and retried.
import * as api from '../api.js';
import {h, clear, toast, bytes, when, fullTime, loading, empty, failed, confirmDialog, formDialog, announce} from '../dom.js';

const base = '/api/v1/files';
const chunkSize = 8 * 1024 * 1024;
const parallelUploads = 3;

let state = {domain: 'private', path: [], sort: 'name', descending: false, entries: [], admin: false, username: ''};
let listBox;
let usageBox;
let queueBox;
const queue = [];

export function leave() {}

export async function show(main, [domain, ...path], session) {
  state.admin = session.info.admin;
  state.username = session.info.username;
  state.domain = ['private', 'shared', 'admin'].includes(domain) && (domain !== 'admin' || state.admin) ? domain : 'private';
  state.path = path.filter(Boolean);
  listBox = h('div', {id: 'file-list'}, loading('files'));
  usageBox = h('div', {id: 'usage'});
  queueBox = queueBox ?? h('section', {id: 'uploads', 'aria-label': 'Uploads'});
  const picker = h('input', {type: 'file', multiple: true, id: 'upload-input', class: 'visually-hidden',
    onchange: (event) => { enqueue(pickedFiles(event.target.files)); event.target.value = ''; }});
  // A whole folder through the picker, where dragging is not possible (keyboards, phones).
  const folderPicker = h('input', {type: 'file', multiple: true, webkitdirectory: true, id: 'upload-folder-input', class: 'visually-hidden',
    onchange: (event) => { enqueue(pickedFiles(event.target.files)); event.target.value = ''; }});
  const pickerLabel = (input, text) => h('label', {for: input.id, class: 'link', tabindex: 0, role: 'button',
    onkeydown: (event) => { if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); input.click(); } }}, text);
  const drop = h('div', {class: 'dropzone', id: 'dropzone'},
    h('p', {}, 'Drop files or folders here, or ', pickerLabel(picker, 'choose files'), ' or ', pickerLabel(folderPicker, 'a folder'), '.'),
    picker, folderPicker);
  for (const type of ['dragenter', 'dragover']) drop.addEventListener(type, (event) => { event.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', async (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    try {
      enqueue(await droppedFiles(event.dataTransfer));
    } catch {
      toast('Some of what was dropped could not be read. Try choosing the files instead.', 'error');
    }
  });

  main.append(
    h('div', {class: 'title-row'}, h('h1', {}, 'Files'),
      h('div', {class: 'actions'},
        h('button', {type: 'button', id: 'new-folder', onclick: newFolder}, 'New folder'),
        h('a', {class: 'button', id: 'download-folder', href: archiveURL('zip'), download: true}, 'Download folder (zip)'),
        state.domain === 'private' ? h('a', {class: 'button', href: `/~${encodeURIComponent(state.username)}/`, target: '_blank', rel: 'noopener'}, 'My public folder') : null)),
    h('nav', {class: 'tabs', 'aria-label': 'File domains'},
      ['private', 'shared', ...(state.admin ? ['admin'] : [])].map((d) => h('a', {href: `#/files/${d}`,
        'aria-current': d === state.domain ? 'page' : null}, {private: 'My files', shared: 'Shared', admin: 'Admin'}[d]))),
    usageBox, breadcrumbs(), drop, queueBox, listBox, sharesSection());
  loadUsage();
  await refresh();
}

const here = () => state.path.join('/');
const urlOf = (parts) => `${base}/${state.domain}/${api.pathOf(parts)}`;
const archiveURL = (kind) => `${urlOf(state.path)}?archive=${kind}`;
const hashOf = (parts) => `#/files/${state.domain}/${parts.map(encodeURIComponent).join('/')}`;

function breadcrumbs() {
  const names = {private: 'My files', shared: 'Shared', admin: 'Admin'};
  return h('nav', {class: 'crumbs', 'aria-label': 'Folder'},
    h('a', {href: hashOf([])}, names[state.domain]),
    state.path.map((name, index) => [' / ', index === state.path.length - 1
      ? h('span', {'aria-current': 'location'}, name) : h('a', {href: hashOf(state.path.slice(0, index + 1))}, name)]));
}

async function loadUsage() {
  if (state.domain !== 'private') return;
  try {
    const usage = await api.get(`${base}/usage`);
    if (!usage.quota_bytes) {
      clear(usageBox, h('p', {class: 'help'}, `You use ${bytes(usage.bytes)} in ${usage.files} files.`));
      return;
    }
    const percent = Math.min(100, Math.round((usage.bytes / usage.quota_bytes) * 100));
    clear(usageBox, h('label', {for: 'quota'}, `Quota: ${bytes(usage.bytes)} of ${bytes(usage.quota_bytes)} used (${percent}%)`),
      h('meter', {id: 'quota', min: 0, max: usage.quota_bytes, value: usage.bytes, high: usage.quota_bytes * 0.9, optimum: 0}));
  } catch { clear(usageBox); }
}

async function refresh() {
  try {
    const entries = [];
    let after = null;
    do {
      const page = await api.get(`${urlOf(state.path)}?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      entries.push(...page.entries);
      after = page.next;
    } while (after && entries.length < 20000);
    state.entries = entries;
    draw();
  } catch (error) {
    clear(listBox, failed(error, refresh));
  }
}

function sortBy(key) {
  state.descending = state.sort === key ? !state.descending : false;
  state.sort = key;
  draw();
}

function draw() {
  if (state.entries.length === 0) return clear(listBox, empty('This folder is empty. Drop files above to upload them.'));
  const sorted = [...state.entries].sort((a, b) => {
    if ((a.kind === 'folder') !== (b.kind === 'folder')) return a.kind === 'folder' ? -1 : 1;
    const order = state.sort === 'size' ? a.size - b.size : state.sort === 'modified'
      ? new Date(a.modified) - new Date(b.modified) : a.name.localeCompare(b.name);
    return state.descending ? -order : order;
  });
  const header = (key, label) => h('th', {scope: 'col', 'aria-sort': state.sort === key ? (state.descending ? 'descending' : 'ascending') : 'none'},
    h('button', {type: 'button', class: 'link', onclick: () => sortBy(key)}, label));
  clear(listBox, h('table', {class: 'files'},
    h('thead', {}, h('tr', {}, header('name', 'Name'), header('size', 'Size'), header('modified', 'Modified'), h('th', {scope: 'col'}, 'Actions'))),
    h('tbody', {}, sorted.map(row))));
}

function row(entry) {
  const parts = [...state.path, entry.name];
  const folder = entry.kind === 'folder';
  return h('tr', {dataset: {name: entry.name}},
    h('td', {}, h('span', {class: `icon ${entry.kind}`, 'aria-hidden': 'true'}),
      folder ? h('a', {href: hashOf(parts)}, entry.name) : h('a', {href: urlOf(parts), download: entry.name}, entry.name)),
    h('td', {}, folder ? '' : bytes(entry.size)),
    h('td', {title: fullTime(entry.modified)}, when(entry.modified)),
    h('td', {class: 'actions'},
      folder ? h('a', {class: 'button small', href: `${urlOf(parts)}?archive=zip`, download: `${entry.name}.zip`}, 'Zip') : null,
      h('button', {type: 'button', class: 'small', onclick: () => rename(entry)}, 'Rename or move'),
      h('button', {type: 'button', class: 'small', onclick: () => share(entry)}, 'Share'),
      h('button', {type: 'button', class: 'small danger', onclick: () => remove(entry)}, 'Delete')));
}

async function newFolder() {
  const values = await formDialog({title: 'New folder', submit: 'Create', fields: [{name: 'name', label: 'Name', required: true}]});
  if (!values?.name) return;
  try {
    await api.post(`${base}/folders`, {domain: state.domain, path: [...state.path, values.name].join('/')});
    announce(`Folder ${values.name} created`);
    refresh();
  } catch (error) { toast(error.message, 'error'); }
}

async function rename(entry) {
  const values = await formDialog({title: `Rename or move ${entry.name}`, submit: 'Move',
    intro: 'Give a new name, or a path from the top of a domain (for example reports/2026/summary.csv).',
    fields: [
      {name: 'path', label: 'New path', value: [...state.path, entry.name].join('/'), required: true},
      {name: 'domain', label: 'Domain', value: state.domain, choices: ['private', 'shared', ...(state.admin ? ['admin'] : [])]},
    ]});
  if (!values) return;
  try {
    await api.post(`${base}/move`, {from: {domain: state.domain, path: [...state.path, entry.name].join('/')},
      to: {domain: values.domain, path: values.path.replace(/^\/+/, '')}, overwrite: false});
    toast(`${entry.name} moved`);
    refresh();
  } catch (error) { toast(error.message, 'error'); }
}

async function remove(entry) {
  const folder = entry.kind === 'folder';
  const sure = await confirmDialog({title: `Delete ${entry.name}?`, danger: true, confirm: 'Delete',
    text: folder ? 'The folder and everything in it are deleted. This cannot be undone.' : 'The file is deleted. This cannot be undone.'});
  if (!sure) return;
  try {
    await api.del(`${urlOf([...state.path, entry.name])}${folder ? '?recursive=true' : ''}`);
    toast(`${entry.name} deleted`);
    refresh();
    loadUsage();
  } catch (error) { toast(error.message, 'error'); }
}

// MARK: share links

function sharesSection() {
  const box = h('div', {id: 'shares'});
  const section = h('details', {class: 'shares'}, h('summary', {}, 'Share links'), box);
  section.addEventListener('toggle', () => { if (section.open) drawShares(box); });
  return section;
}

async function drawShares(box) {
  clear(box, loading('share links'));
  try {
    const {shares} = await api.get(`${base}/shares`);
    if (shares.length === 0) return clear(box, empty('You have shared nothing. Use Share on a file or folder to make a link anyone can open.'));
    clear(box, h('ul', {class: 'plain'}, shares.map((link) => h('li', {},
      h('code', {}, `${link.domain}/${link.path}`), ` until ${fullTime(link.expires_at)} `,
      link.url ? copyButton(link.url) : null,
      h('button', {type: 'button', class: 'small danger', onclick: async () => {
        try { await api.del(`${base}/shares/${link.id}`); drawShares(box); } catch (error) { toast(error.message, 'error'); }
      }}, 'Revoke')))));
  } catch (error) { clear(box, failed(error, () => drawShares(box))); }
}

function copyButton(text) {
  return h('button', {type: 'button', class: 'small', onclick: async (event) => {
    try {
      await navigator.clipboard.writeText(text);
      event.target.textContent = 'Copied';
      announce('Link copied');
    } catch { toast(`Copy this link: ${text}`); }
  }}, 'Copy link');
}

async function share(entry) {
  const values = await formDialog({title: `Share ${entry.name}`, submit: 'Make link',
    intro: 'Anyone with the link can read it, without signing in, until it expires or you revoke it.',
    fields: [{name: 'hours', label: 'Expires after (hours)', type: 'number', value: '168', required: true}]});
  if (!values) return;
  try {
    const link = await api.post(`${base}/shares`, {domain: state.domain, path: [...state.path, entry.name].join('/'),
      expires_in_hours: Number(values.hours)});
    toast(`Link made: ${link.url ?? ''}`);
    if (link.url) navigator.clipboard?.writeText(link.url).catch(() => {});
  } catch (error) { toast(error.message, 'error'); }
}

// MARK: uploads

/// Walks dropped folders (the File and Directory Entries API) into files with their relative paths.
export async function droppedFiles(transfer) {
  const found = [];
  const walk = async (entry, prefix) => {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      found.push({file, path: [...prefix, entry.name]});
    } else if (entry.isDirectory) {
      found.push({folder: true, path: [...prefix, entry.name]});
      const reader = entry.createReader();
      // readEntries answers in batches (100 at a time in Chromium) until an empty one.
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const child of batch) await walk(child, [...prefix, entry.name]);
      }
    }
  };
  // The entries must be taken before the first await: the DataTransfer empties once the event is over.
  const entries = [...(transfer.items ?? [])].filter((item) => item.kind === 'file').map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (entries.length === 0) return [...transfer.files].map((file) => ({file, path: [file.name]}));
  for (const entry of entries) await walk(entry, []);
  return found;
}

/// Files from an <input type=file>; with webkitdirectory they carry their folder in webkitRelativePath.
export function pickedFiles(files) {
  const found = [];
  const folders = new Set();
  for (const file of files) {
    const path = (file.webkitRelativePath || file.name).split('/').filter(Boolean);
    for (let depth = 1; depth < path.length; depth++) {
      const folder = path.slice(0, depth).join('/');
      if (!folders.has(folder)) { folders.add(folder); found.push({folder: true, path: path.slice(0, depth)}); }
    }
    found.push({file, path});
  }
  return found;
}

/// Folders first (in order, so parents exist before children; empty ones are kept too), then the files.
async function enqueue(items) {
  const domain = state.domain;
  const folder = [...state.path];
  for (const item of items.filter((i) => i.folder)) {
    const path = [...folder, ...item.path].join('/');
    try {
      await api.post(`${base}/folders`, {domain, path});
    } catch (error) {
      // An existing folder is fine: the files go into it.
      if (error.status !== 409) toast(`The folder ${path} could not be made: ${error.message}`, 'error');
    }
  }
  const files = items.filter((i) => !i.folder);
  for (const item of files) {
    const upload = {file: item.file, domain, path: [...folder, ...item.path].join('/'), offset: 0, id: null,
      status: 'waiting', xhr: null, error: null, attempts: 0, overwrite: false, run: 0};
    upload.view = uploadView(upload);
    queue.push(upload);
  }
  if (files.length) announce(`${files.length} ${files.length === 1 ? 'file' : 'files'} added to the uploads`);
  drawQueueActions();
  pump();
}

function drawQueueActions() {
  let bar = queueBox.querySelector('#upload-actions');
  if (!bar) {
    bar = h('div', {id: 'upload-actions', class: 'actions'});
    queueBox.prepend(bar);
  }
  const finished = queue.filter((u) => u.status === 'done' || u.status === 'cancelled').length;
  const done = queue.filter((u) => u.status === 'done').length;
  clear(bar,
    h('span', {id: 'upload-summary', class: 'help'}, queue.length ? `${done} of ${queue.length} uploaded` : ''),
    finished ? h('button', {type: 'button', class: 'small', id: 'clear-finished', onclick: clearFinished}, 'Clear finished') : null);
  bar.hidden = queue.length === 0;
}

function clearFinished() {
  for (const upload of queue.filter((u) => u.status === 'done' || u.status === 'cancelled')) {
    upload.view.item.remove();
    queue.splice(queue.indexOf(upload), 1);
  }
  drawQueueActions();
}

function uploadView(upload) {
  const label = `Upload of ${upload.path}`;
  const bar = h('progress', {max: upload.file.size || 1, value: 0, 'aria-label': label});
  const text = h('span', {class: 'upload-state'}, 'Waiting');
  const pause = h('button', {type: 'button', class: 'small pause', 'aria-label': `Pause ${upload.path}`, onclick: () => togglePause(upload)}, 'Pause');
  const retry = h('button', {type: 'button', class: 'small retry', hidden: true, onclick: () => {
    upload.status = 'waiting'; upload.attempts = 0; upload.error = null; paint(upload); pump();
  }}, 'Retry');
  const overwrite = h('button', {type: 'button', class: 'small danger overwrite', hidden: true, onclick: () => {
    upload.overwrite = true; upload.id = null; upload.offset = 0; upload.status = 'waiting'; upload.attempts = 0; upload.error = null;
    paint(upload); pump();
  }}, 'Overwrite');
  const cancel = h('button', {type: 'button', class: 'small cancel', onclick: () => cancelUpload(upload)}, 'Cancel');
  const item = h('div', {class: 'upload', dataset: {path: upload.path}}, h('span', {class: 'upload-name'}, upload.path), bar, text,
    h('span', {class: 'upload-buttons'}, pause, retry, overwrite, cancel));
  queueBox.append(item);
  return {item, bar, text, pause, retry, overwrite, cancel};
}

function percentOf(upload, offset = upload.offset) {
  return upload.file.size ? Math.floor((offset / upload.file.size) * 100) : 100;
}

function paint(upload) {
  const {bar, text, pause, retry, overwrite, cancel} = upload.view;
  bar.value = upload.offset;
  const percent = percentOf(upload);
  text.textContent = {
    waiting: upload.error ? `${upload.error} Trying again…` : 'Waiting', uploading: `${percent}% of ${bytes(upload.file.size)}`,
    paused: `Paused at ${percent}%`, done: `Uploaded (${bytes(upload.file.size)})`, failed: upload.error ?? 'Failed',
    conflict: upload.error ?? 'A file with this name already exists.', cancelled: 'Cancelled',
  }[upload.status];
  const over = ['done', 'cancelled'].includes(upload.status);
  pause.hidden = over || upload.status === 'failed' || upload.status === 'conflict';
  pause.textContent = upload.status === 'paused' ? 'Resume' : 'Pause';
  pause.setAttribute('aria-label', `${pause.textContent} ${upload.path}`);
  retry.hidden = upload.status !== 'failed';
  overwrite.hidden = upload.status !== 'conflict';
  cancel.hidden = over;
  upload.view.item.className = `upload ${upload.status}`;
}

function togglePause(upload) {
  if (upload.status === 'paused') {
    upload.status = 'waiting';
  } else {
    upload.status = 'paused';
    upload.run++; // the running attempt, if any, stops at its next step and says nothing
    upload.xhr?.abort();
    announce(`${upload.path} paused`);
    if (upload.id) showKept(upload, upload.run);
  }
  paint(upload);
  pump();
}

/// After a pause, the bar shows what the server kept (an aborted chunk may have partly arrived).
async function showKept(upload, run) {
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const response = await api.request('HEAD', `${base}/uploads/${upload.id}`, {raw: true, headers: {'Tus-Resumable': '1.0.0'}});
    const kept = Number(response.headers.get('Upload-Offset'));
    if (upload.run === run && upload.status === 'paused' && Number.isFinite(kept)) {
      upload.offset = kept;
      paint(upload);
    }
  } catch { /* the resume asks again */ }
}

async function cancelUpload(upload) {
  upload.status = 'cancelled';
  upload.run++;
  upload.xhr?.abort();
  paint(upload);
  // The server forgets the partial bytes at once rather than at the next sweep.
  if (upload.id) api.del(`${base}/uploads/${upload.id}`).catch(() => {});
  drawQueueActions();
  pump();
}

function pump() {
  const active = queue.filter((u) => u.status === 'uploading').length;
  for (const upload of queue.filter((u) => u.status === 'waiting').slice(0, Math.max(0, parallelUploads - active))) run(upload);
}

/// Errors that another attempt cannot fix: the person has to decide or change something.
const final = (error) => [400, 403, 413, 415, 507].includes(error.status)
  || (error.status === 409 && !['offset_mismatch', 'upload_busy'].includes(error.code));

async function run(upload) {
  const attempt = ++upload.run;
  const current = () => upload.run === attempt && upload.status === 'uploading';
  upload.status = 'uploading';
  paint(upload);
  try {
    if (upload.id) {
      // Resuming: the server's offset is the truth (an aborted chunk may have partly arrived).
      try {
        const response = await api.request('HEAD', `${base}/uploads/${upload.id}`, {raw: true, headers: {'Tus-Resumable': '1.0.0'}});
        upload.offset = Number(response.headers.get('Upload-Offset') ?? upload.offset);
      } catch (error) {
        // Swept or finished meanwhile: start over with a new session.
        if (error.status !== 404) throw error;
        upload.id = null;
        upload.offset = 0;
      }
    }
    if (!current()) return;
    if (!upload.id) {
      const answer = await api.post(`${base}/uploads`, {domain: upload.domain, path: upload.path, length: upload.file.size, overwrite: upload.overwrite});
      upload.id = answer.id;
      upload.offset = answer.offset ?? 0;
    }
    while (upload.offset < upload.file.size) {
      if (!current()) return;
      await sendChunk(upload);
      upload.attempts = 0;
      paint(upload);
    }
    if (!current()) return;
    upload.status = 'done';
    upload.error = null;
    paint(upload);
    announce(`${upload.path} uploaded`);
    if (upload.domain === state.domain && document.getElementById('file-list')) { refresh(); loadUsage(); }
  } catch (error) {
    if (upload.run !== attempt || upload.status !== 'uploading') return paint(upload);
    if (error.status === 409 && error.code === 'exists') {
      upload.status = 'conflict';
      upload.id = null;
      upload.error = `A file named ${upload.path.split('/').pop()} already exists here. Overwrite it, or cancel this upload.`;
      paint(upload);
      announce(upload.error);
      return;
    }
    upload.attempts += 1;
    upload.error = explain(error, upload);
    if (!final(error) && upload.attempts < 4) {
      upload.status = 'waiting';
      paint(upload);
      // Busy or mismatched offsets settle within a second; network trouble gets longer each time.
      const delay = error.status === 409 ? 1000 : 1000 * 2 ** upload.attempts;
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (upload.run !== attempt || upload.status !== 'waiting') return;
    } else {
      upload.status = 'failed';
      paint(upload);
      announce(`${upload.path} failed: ${upload.error}`);
    }
  } finally {
    drawQueueActions();
    pump();
  }
}

/// The server's sentence, with what it means for this file first.
function explain(error, upload) {
  if (error.code === 'quota_exceeded') return `This file (${bytes(upload.file.size)}) does not fit in your quota. ${error.message}`;
  if (error.code === 'too_large') {
    const limit = /(\d+) bytes/.exec(error.message)?.[1];
    return `This file (${bytes(upload.file.size)}) is larger than Knot accepts${limit ? ` (at most ${bytes(limit)} per file)` : ''}.`;
  }
  return error.message;
}

/// Words for what an upload's answer means, when the server gave none.
function uploadFailure(status) {
  if (status === 0) return 'The connection dropped. Check your network; the upload continues where it stopped.';
  if (status === 413) return 'This file is larger than your quota or the upload limit allows.';
  if (status === 507) return 'The server has no space left for this file.';
  return `The upload failed (${status}).`;
}

/// One chunk with XMLHttpRequest, the one browser API that reports upload progress.
function sendChunk(upload) {
  return new Promise((resolve, reject) => {
    const start = upload.offset;
    const chunk = upload.file.slice(start, Math.min(start + chunkSize, upload.file.size));
    const xhr = new XMLHttpRequest();
    upload.xhr = xhr;
    xhr.open('PATCH', `${base}/uploads/${upload.id}`);
    xhr.setRequestHeader('Content-Type', 'application/offset+octet-stream');
    xhr.setRequestHeader('Upload-Offset', String(start));
    xhr.setRequestHeader('Tus-Resumable', '1.0.0');
    xhr.upload.onprogress = (event) => {
      if (upload.xhr !== xhr) return;
      upload.view.bar.value = start + event.loaded;
      upload.view.text.textContent = `${percentOf(upload, start + event.loaded)}% of ${bytes(upload.file.size)}`;
    };
    xhr.onload = () => {
      upload.xhr = null;
      if (xhr.status >= 200 && xhr.status < 300) {
        upload.offset = Number(xhr.getResponseHeader('Upload-Offset') ?? start + chunk.size);
        return resolve();
      }
      let message = uploadFailure(xhr.status);
      let code = 'error';
      try {
        const body = JSON.parse(xhr.responseText);
        if (body?.error?.message) message = body.error.message.charAt(0).toUpperCase() + body.error.message.slice(1) + '.';
        code = body?.error?.code ?? code;
      } catch { /* keep the plain words */ }
      reject(new api.APIError(xhr.status, code, message));
    };
    xhr.onerror = () => { upload.xhr = null; reject(new api.APIError(0, 'network', uploadFailure(0))); };
    xhr.onabort = () => { upload.xhr = null; reject(new api.APIError(0, 'aborted', 'Paused.')); };
    xhr.send(chunk);
  });
}
