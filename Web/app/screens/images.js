// Images: the container registry as this person sees it (issue 11).
// Repositories expand to their tags (size, digest, date); a .tar made by
// `docker save` or an OCI image layout is pushed from the person's files or
// uploaded, with progress for the upload and for the push itself; admins
// delete. The menu shows this screen only when a registry is configured.
import * as api from '../api.js';
import {h, clear, toast, when, fullTime, loading, empty, failed, confirmDialog, announce, bytes} from '../dom.js';

const base = '/api/v1/images';
let listBox;
let who;

export async function show(main, _rest, session) {
  who = session;
  const status = session.registry ?? await api.get(`${base}/status`).catch(() => null);
  main.append(h('h1', {}, 'Images'));
  if (!status) {
    main.append(empty('No image registry is configured. An administrator sets KNOT_REGISTRY_API_URL to enable this screen.'));
    return;
  }
  const prefix = status.push_prefix ?? '';
  main.append(
    h('p', {}, 'Container images in ', h('code', {}, status.registry), '. ',
      prefix ? ['You can push to repositories under ', h('code', {}, prefix), ' and see those and ', h('code', {}, 'library/'), '.']
        : 'As an administrator you see and push every repository.'),
    pushForm(prefix));
  listBox = h('div', {id: 'image-list'}, loading('repositories'));
  main.append(h('h2', {}, 'Repositories'), listBox);
  await refresh();
}

// MARK: push

function pushForm(prefix) {
  const progress = h('progress', {id: 'push-progress', max: 1, value: 0, hidden: true, 'aria-label': 'Push progress'});
  const state = h('p', {id: 'push-state', class: 'help', 'aria-live': 'polite'});
  const source = h('select', {id: 'push-source', name: 'source'},
    h('option', {value: 'files'}, 'A .tar in my files'), h('option', {value: 'upload'}, 'Upload a .tar'));
  const domain = h('select', {id: 'push-domain', name: 'domain'},
    h('option', {value: 'private'}, 'private'), h('option', {value: 'shared'}, 'shared'));
  const path = h('input', {id: 'push-path', name: 'path', placeholder: 'images/app.tar', autocomplete: 'off'});
  const file = h('input', {id: 'push-file', name: 'file', type: 'file', accept: '.tar,application/x-tar', hidden: true});
  const fromFiles = h('div', {class: 'field', id: 'push-from-files'}, h('label', {for: 'push-path'}, 'Path'), h('span', {}, domain, path));
  const fromUpload = h('div', {class: 'field', id: 'push-from-upload', hidden: true}, h('label', {for: 'push-file'}, 'File'), file);
  source.addEventListener('change', () => {
    const upload = source.value === 'upload';
    fromFiles.hidden = upload;
    fromUpload.hidden = !upload;
    file.hidden = !upload;
  });
  const repository = h('input', {id: 'push-repository', name: 'repository', required: true, value: prefix, autocomplete: 'off',
    pattern: '[a-z0-9]+([._\\-]+[a-z0-9]+)*(/[a-z0-9]+([._\\-]+[a-z0-9]+)*)*'});
  const tag = h('input', {id: 'push-tag', name: 'tag', placeholder: 'latest (or the archive\'s own)', autocomplete: 'off', maxlength: 128});
  const button = h('button', {type: 'submit', class: 'primary', id: 'push-button'}, 'Push');
  const form = h('form', {class: 'inline', id: 'push-form'},
    h('div', {class: 'field'}, h('label', {for: 'push-source'}, 'Image'), source), fromFiles, fromUpload,
    h('div', {class: 'field'}, h('label', {for: 'push-repository'}, 'Repository'), repository),
    h('div', {class: 'field'}, h('label', {for: 'push-tag'}, 'Tag'), tag),
    button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const upload = source.value === 'upload';
    if (upload && !file.files[0]) return toast('Choose a .tar file to upload.', 'error');
    if (!upload && !path.value.trim()) return toast('Give the path of a .tar in your files.', 'error');
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    try {
      const result = await push({
        upload: upload ? file.files[0] : null, domain: domain.value, path: path.value.trim().replace(/^\/+/, ''),
        repository: repository.value.trim(), tag: tag.value.trim() || undefined,
      }, (text, done, total) => {
        state.textContent = text;
        if (total) { progress.max = total; progress.value = done; } else progress.removeAttribute('value');
      });
      state.textContent = `Pushed ${result.repository}:${result.tag} (${bytes(result.size)}, ${result.blobs_uploaded} new blobs).`;
      announce(state.textContent);
      progress.hidden = true;
      refresh(result.repository);
    } catch (error) {
      progress.hidden = true;
      state.textContent = '';
      toast(error.message, 'error');
    } finally {
      button.disabled = false;
    }
  });
  return h('section', {'aria-labelledby': 'push-heading'}, h('h2', {id: 'push-heading'}, 'Push an image'),
    h('p', {class: 'help'}, 'A plain .tar from docker save, podman save or an OCI image layout. Every blob is checked before anything is sent.'),
    form, progress, state);
}

/// XHR rather than fetch: it reports the upload's progress, and its growing
/// responseText carries the push's own progress lines (application/x-ndjson).
function push({upload, domain, path, repository, tag}, report) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    let url = `${base}/push`;
    if (upload) url += `?${new URLSearchParams({repository, ...(tag ? {tag} : {})})}`;
    xhr.open('POST', url);
    xhr.setRequestHeader('Accept', 'application/x-ndjson');
    let seen = 0;
    let outcome = null;
    const readLines = () => {
      if (xhr.status !== 200) return;
      const text = xhr.responseText;
      let end;
      while ((end = text.indexOf('\n', seen)) >= 0) {
        const line = text.slice(seen, end);
        seen = end + 1;
        let event;
        try { event = JSON.parse(line); } catch { continue; }
        if (event.event === 'verified') report(`Verified ${event.blobs} blobs; pushing…`, 0, event.total);
        else if (event.event === 'progress') report(`Pushing: ${bytes(event.done)} of ${bytes(event.total)}`, event.done, event.total);
        else if (event.event === 'done') outcome = {ok: event.result};
        else if (event.event === 'error') outcome = {error: event.error};
      }
    };
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) report(`Uploading: ${bytes(event.loaded)} of ${bytes(event.total)}`, event.loaded, event.total);
    };
    xhr.upload.onload = () => report('Checking the archive…', 0, 0);
    xhr.onprogress = readLines;
    xhr.onerror = () => reject(new api.APIError(0, 'network', 'Knot cannot be reached. Check your connection and try again.'));
    xhr.onload = () => {
      if (xhr.status === 200) {
        readLines();
        if (outcome?.ok) return resolve(outcome.ok);
        const message = outcome?.error?.message ?? 'The push stopped before it finished.';
        return reject(new api.APIError(502, outcome?.error?.code ?? 'error', sentence(message)));
      }
      if (xhr.status === 201) return resolve(JSON.parse(xhr.responseText));
      let message = `The push failed (${xhr.status}).`;
      let code = 'error';
      try {
        const body = JSON.parse(xhr.responseText);
        message = sentence(body.error.message);
        code = body.error.code;
      } catch { /* not JSON: keep the status */ }
      reject(new api.APIError(xhr.status, code, message));
    };
    if (upload) {
      xhr.setRequestHeader('Content-Type', 'application/x-tar');
      report('Uploading…', 0, upload.size);
      xhr.send(upload);
    } else {
      xhr.setRequestHeader('Content-Type', 'application/json');
      report('Checking the archive…', 0, 0);
      xhr.send(JSON.stringify({domain, path, repository, tag}));
    }
  });
}

const sentence = (text) => text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.');

// MARK: repositories and tags

async function refresh(open) {
  try {
    const {repositories} = await api.get(base);
    if (repositories.length === 0) return clear(listBox, empty('No repositories yet. Push an image above.'));
    clear(listBox, repositories.map((repository) => repositoryView(repository.name, repository.name === open)));
  } catch (error) { clear(listBox, failed(error, () => refresh(open))); }
}

function repositoryView(name, open) {
  const body = h('div', {class: 'tags'});
  const details = h('details', {class: 'repository', dataset: {repository: name}},
    h('summary', {}, h('code', {}, name)), body);
  let loaded = false;
  const load = async () => {
    clear(body, loading(`the tags of ${name}`));
    try {
      const {tags} = await api.get(`${base}/${api.seg(name)}/tags`);
      loaded = true;
      if (tags.length === 0) return clear(body, empty('No tags.'));
      clear(body, h('table', {},
        h('thead', {}, h('tr', {}, ['Tag', 'Digest', 'Size', 'Created', 'Platform', ''].map((c) => h('th', {scope: 'col'}, c)))),
        h('tbody', {}, tags.map((tag) => h('tr', {dataset: {tag: tag.tag}},
          h('td', {}, h('code', {}, tag.tag)),
          h('td', {title: tag.digest}, h('code', {}, tag.digest.slice(0, 19) + '…')),
          h('td', {}, tag.size === undefined || tag.size === null ? '' : bytes(tag.size)),
          h('td', {title: fullTime(tag.created)}, tag.created ? when(tag.created) : ''),
          h('td', {}, tag.platform ?? ''),
          h('td', {},
            h('button', {type: 'button', class: 'small', onclick: () => showManifest(name, tag)}, 'Manifest'),
            who?.info?.admin ? h('button', {type: 'button', class: 'small danger', onclick: () => remove(name, tag, load)}, 'Delete') : null))))));
    } catch (error) { clear(body, failed(error, load)); }
  };
  details.addEventListener('toggle', () => { if (details.open && !loaded) load(); });
  if (open) { details.open = true; }
  return details;
}

async function showManifest(repository, tag) {
  try {
    const response = await api.request('GET', `${base}/${api.seg(repository)}/manifests/${api.seg(tag.tag)}`, {raw: true});
    const text = JSON.stringify(JSON.parse(await response.text()), null, 2);
    const dialog = h('dialog', {'aria-labelledby': 'dialog-title', class: 'wide'},
      h('form', {method: 'dialog'},
        h('h2', {id: 'dialog-title'}, `${repository}:${tag.tag}`),
        h('p', {}, h('code', {}, response.headers.get('Docker-Content-Digest') ?? tag.digest)),
        h('pre', {class: 'manifest'}, text),
        h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Close'))));
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  } catch (error) { toast(error.message, 'error'); }
}

async function remove(repository, tag, reload) {
  const ok = await confirmDialog({
    title: `Delete ${repository}:${tag.tag}?`,
    text: `The image ${tag.digest.slice(0, 19)}… goes, with every tag that points at it. Its layers are freed at the registry's next garbage collection.`,
    confirm: 'Delete', danger: true,
  });
  if (!ok) return;
  try {
    await api.del(`${base}/${api.seg(repository)}/manifests/${api.seg(tag.digest)}`);
    announce(`Deleted ${repository}:${tag.tag}`);
    reload();
  } catch (error) { toast(error.message, 'error'); }
}
