// Services: what a person runs, live. The list follows the launcher's event
// stream, so a launch, a crash or a stop shows without reloading.
import * as api from '../api.js';
import {h, clear, toast, when, fullTime, loading, empty, failed, confirmDialog, announce} from '../dom.js';

const base = '/api/v1/launcher';
let stream = null;
let services = [];
let listBox = null;
let refetchTimer = null;

export function leave() {
  stream?.close();
  stream = null;
  clearTimeout(refetchTimer);
}

export async function show(main, [sub, templateID]) {
  if (sub === 'new') return newService(main, templateID);
  listBox = h('div', {id: 'services', 'aria-live': 'polite'}, loading('your services'));
  main.append(
    h('div', {class: 'title-row'},
      h('h1', {}, 'Services'),
      h('a', {class: 'button primary', href: '#/services/new', id: 'new-service'}, 'New service')),
    listBox);
  await refresh();
  follow();
}

async function refresh() {
  try {
    ({services} = await api.get(`${base}/services`));
    draw();
  } catch (error) {
    clear(listBox, failed(error, refresh));
  }
}

/// Server-sent events: a snapshot first, then changes. Anything but a
/// snapshot makes us read the list again (cheap, and never out of order).
function follow() {
  stream?.close();
  stream = new EventSource(`${base}/services/events`);
  stream.addEventListener('snapshot', (event) => {
    try {
      const data = JSON.parse(event.data);
      if (Array.isArray(data.services)) { services = data.services; draw(); }
    } catch { refresh(); }
  });
  const changed = () => {
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(refresh, 150);
  };
  stream.onmessage = changed;
  for (const type of ['service', 'changed', 'deleted', 'update']) stream.addEventListener(type, changed);
}

export const phaseOf = (service) => service.phase ?? (service.status === 'running' ? 'ready' : service.status);

const phaseWords = {ready: 'Ready', starting: 'Starting', failed: 'Failed', stopped: 'Stopped', stopping: 'Stopping'};

function draw() {
  if (!listBox) return;
  if (services.length === 0) {
    return clear(listBox, empty('You run no services yet. Start one from a template: a notebook, a database, a web server.',
      h('a', {class: 'button primary', href: '#/services/new'}, 'New service')));
  }
  clear(listBox, h('ul', {class: 'cards'}, services.map(card)));
}

function card(service) {
  const phase = phaseOf(service);
  const reason = service.reason ?? (phase !== 'ready' ? service.message : '');
  const replicas = service.desired_replicas !== undefined ? `${service.ready_replicas ?? 0}/${service.desired_replicas} ready` : null;
  return h('li', {class: `card service phase-${phase}`, dataset: {name: service.name}},
    h('div', {class: 'card-head'},
      h('h2', {},
        phase === 'ready' ? h('a', {href: service.url, target: '_blank', rel: 'noopener'}, service.name) : service.name),
      h('span', {class: `pill ${phase}`, role: 'status'}, phaseWords[phase] ?? phase)),
    reason ? h('p', {class: 'reason'}, reason) : null,
    h('dl', {class: 'facts'},
      h('dt', {}, 'Template'), h('dd', {}, service.template, service.version ? ` ${service.version}` : ''),
      h('dt', {}, 'Address'), h('dd', {}, h('code', {}, service.url)),
      h('dt', {}, 'Created'), h('dd', {title: fullTime(service.created_at)}, when(service.created_at)),
      replicas ? [h('dt', {}, 'Replicas'), h('dd', {}, replicas)] : null,
      service.restarts ? [h('dt', {}, 'Restarts'), h('dd', {}, String(service.restarts))] : null,
      service.cull_after ? [h('dt', {}, 'Stops when idle'), h('dd', {title: fullTime(service.cull_after)}, `after ${fullTime(service.cull_after)}`)] : null,
      service.expires_at ? [h('dt', {}, 'Stops at'), h('dd', {}, fullTime(service.expires_at))] : null),
    h('div', {class: 'actions'},
      phase === 'ready' ? h('a', {class: 'button', href: service.url, target: '_blank', rel: 'noopener'}, 'Open') : null,
      h('button', {type: 'button', onclick: () => showValues(service)}, 'Values'),
      h('button', {type: 'button', onclick: () => showLogs(service)}, 'Logs'),
      h('button', {type: 'button', onclick: () => showEvents(service)}, 'Events'),
      phase === 'stopped'
        ? h('button', {type: 'button', onclick: () => act(service, 'start', 'Starting')}, 'Start')
        : h('button', {type: 'button', onclick: () => act(service, 'stop', 'Stopping'), disabled: phase === 'stopping'}, 'Stop'),
      service.upgrade_available ? h('button', {type: 'button', class: 'primary', onclick: () => act(service, 'upgrade', 'Upgrading')}, 'Upgrade') : null,
      h('button', {type: 'button', class: 'danger', onclick: () => remove(service)}, 'Delete')));
}

async function act(service, action, doing) {
  try {
    announce(`${doing} ${service.name}`);
    await api.post(`${base}/services/${api.seg(service.name)}/${action}`);
    toast(`${doing} ${service.name}…`);
    refresh();
  } catch (error) {
    toast(error.message, 'error');
  }
}

async function remove(service) {
  const sure = await confirmDialog({
    title: `Delete ${service.name}?`, danger: true, confirm: 'Delete',
    text: 'Everything it runs is removed and its address stops working. Your files stay.'});
  if (!sure) return;
  try {
    await api.del(`${base}/services/${api.seg(service.name)}`);
    toast(`${service.name} deleted`);
    refresh();
  } catch (error) {
    toast(error.message, 'error');
  }
}

function panel(title, content, onClose) {
  const dialog = h('dialog', {class: 'wide', 'aria-labelledby': 'panel-title'},
    h('div', {class: 'title-row'}, h('h2', {id: 'panel-title'}, title),
      h('button', {type: 'button', class: 'link', onclick: () => dialog.close(), 'aria-label': 'Close'}, 'Close')),
    content);
  dialog.addEventListener('close', () => { onClose?.(); dialog.remove(); });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

function showValues(service) {
  const values = Object.entries(service.values ?? {}).sort(([a], [b]) => a.localeCompare(b));
  panel(`Values of ${service.name}`, values.length
    ? h('dl', {class: 'facts'}, values.map(([key, value]) => [h('dt', {}, key), h('dd', {}, h('code', {}, value))]))
    : h('p', {}, 'This service was launched with no values.'));
}

async function showEvents(service) {
  const box = h('div', {}, loading('events'));
  panel(`Events of ${service.name}`, box);
  try {
    const answer = await api.get(`${base}/services/${api.seg(service.name)}/events`);
    const events = answer.events ?? [];
    if (events.length === 0) return clear(box, empty('Nothing has happened to it lately.'));
    clear(box, h('table', {},
      h('thead', {}, h('tr', {}, ['When', 'Type', 'Reason', 'Object', 'Message'].map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, events.map((e) => h('tr', {class: e.type === 'Warning' ? 'warning' : ''},
        h('td', {}, when(e.lastSeen ?? e.last_seen)), h('td', {}, e.type), h('td', {}, e.reason),
        h('td', {}, e.object), h('td', {}, e.message, e.count > 1 ? ` (×${e.count})` : ''))))));
  } catch (error) {
    clear(box, failed(error));
  }
}

/// Logs follow as they are written, until the panel closes.
async function showLogs(service) {
  const output = h('pre', {class: 'logs', tabindex: 0, 'aria-label': 'Log output'});
  const state = h('p', {class: 'help', role: 'status'}, 'Connecting…');
  const controller = new AbortController();
  panel(`Logs of ${service.name}`, [state, output], () => controller.abort());
  try {
    const response = await api.request('GET', `${base}/services/${api.seg(service.name)}/logs?tail=500&follow=1`,
      {raw: true, signal: controller.signal});
    state.textContent = 'Following: new lines appear as they are written.';
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      const atBottom = output.scrollTop + output.clientHeight >= output.scrollHeight - 8;
      output.append(decoder.decode(value, {stream: true}));
      if (atBottom) output.scrollTop = output.scrollHeight;
    }
    state.textContent = 'The log ended.';
  } catch (error) {
    if (error.name !== 'AbortError') state.textContent = error.message;
  }
}

// MARK: launching

async function newService(main, templateID) {
  const box = h('div', {}, loading('templates'));
  main.append(h('p', {class: 'crumbs'}, h('a', {href: '#/services'}, 'Services'), ' › New service'),
    h('h1', {}, templateID ? 'New service' : 'Choose a template'), box);
  let templates;
  try {
    ({templates} = await api.get(`${base}/templates`));
  } catch (error) {
    return clear(box, failed(error, () => location.reload()));
  }
  const chosen = templates.find((t) => t.id === templateID);
  if (!chosen) return clear(box, templateGrid(templates));
  clear(box, launchForm(chosen));
}

export function templateGrid(templates) {
  if (templates.length === 0) return empty('There are no templates yet. Add one on the Templates screen.');
  return h('ul', {class: 'cards grid'}, templates.map((template) => h('li', {class: 'card template'},
    h('h2', {}, template.name),
    h('p', {}, template.description || 'No description.'),
    h('p', {class: 'meta'}, h('span', {class: 'tag'}, template.source), template.version ? ` version ${template.version}` : ''),
    template.available
      ? h('a', {class: 'button primary', href: `#/services/new/${encodeURIComponent(template.id)}`, dataset: {template: template.id}}, 'Choose')
      : h('p', {class: 'unavailable'}, template.problem ?? template.unavailable_reason ?? 'Not available here.'))));
}

function inputFor(variable) {
  const id = `var-${variable.name}`;
  const type = variable.type ?? (variable.choices?.length ? 'choice' : 'string');
  if (type === 'choice' || variable.choices?.length) {
    return h('select', {id, name: variable.name},
      (variable.choices ?? []).map((c) => h('option', {value: c, selected: c === variable.default}, c)));
  }
  if (type === 'boolean') {
    return h('select', {id, name: variable.name},
      ['true', 'false'].map((c) => h('option', {value: c, selected: c === String(variable.default)}, c === 'true' ? 'Yes' : 'No')));
  }
  return h('input', {id, name: variable.name, type: type === 'integer' ? 'number' : 'text', step: type === 'integer' ? 1 : null,
    value: variable.default ?? '', autocomplete: 'off', 'aria-describedby': `${id}-help ${id}-error`});
}

function launchForm(template) {
  const variables = (template.variables ?? []).filter((v) => !v.hidden);
  const status = h('div', {id: 'launch-status', role: 'status', 'aria-live': 'polite'});
  const form = h('form', {class: 'launch', novalidate: true},
    h('p', {}, template.description),
    variables.map((variable) => h('div', {class: 'field', dataset: {variable: variable.name}},
      h('label', {for: `var-${variable.name}`}, variable.title ?? variable.name),
      inputFor(variable),
      variable.help ? h('p', {class: 'help', id: `var-${variable.name}-help`}, variable.help) : null,
      h('p', {class: 'field-error', id: `var-${variable.name}-error`}))),
    h('div', {class: 'actions'},
      h('a', {class: 'button', href: '#/services/new'}, 'Back'),
      h('button', {type: 'submit', class: 'primary', id: 'launch'}, `Launch ${template.name}`)),
    status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const message of form.querySelectorAll('.field-error')) message.textContent = '';
    for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
    const values = {};
    for (const variable of variables) {
      const value = form.elements[variable.name].value;
      if (value !== String(variable.default ?? '')) values[variable.name] = value;
    }
    const button = form.querySelector('#launch');
    button.disabled = true;
    try {
      const record = await api.post(`${base}/services`, {template: template.id, values});
      await watchLaunch(record, status);
    } catch (error) {
      // A message naming a variable is shown beside it.
      const named = variables.find((v) => (error.code === 'invalid_name' && v.name === 'NAME') || new RegExp(`\\b${v.name}\\b`).test(error.message));
      if (named) {
        form.querySelector(`#var-${named.name}-error`).textContent = error.message;
        form.elements[named.name].setAttribute('aria-invalid', 'true');
        form.elements[named.name].focus();
      }
      clear(status, h('p', {class: 'state error', role: 'alert'}, error.message));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/// Progress until the service is ready, or a clear reason why not.
async function watchLaunch(record, status) {
  const steps = ['Accepted', 'Starting', 'Ready'];
  const draw = (service) => {
    const phase = phaseOf(service);
    const reached = phase === 'ready' ? 3 : phase === 'failed' ? 1 : 2;
    clear(status,
      h('ol', {class: 'steps'}, steps.map((step, index) => h('li', {class: index < reached ? 'done' : ''}, step))),
      h('progress', {max: 3, value: reached, 'aria-label': 'Launch progress'}),
      phase === 'ready'
        ? h('p', {class: 'state ok'}, `${service.name} is ready. `, h('a', {href: service.url, target: '_blank', rel: 'noopener', id: 'open-new'}, 'Open it'))
        : phase === 'failed'
          ? h('p', {class: 'state error', role: 'alert'}, `${service.name} did not start: ${service.reason ?? service.message}`)
          : h('p', {}, `${service.name} is starting${service.reason ? `: ${service.reason}` : '…'}`));
    return phase === 'ready' || phase === 'failed' || phase === 'stopped';
  };
  let service = record;
  for (let i = 0; i < 600 && !draw(service); i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    try { service = await api.get(`${base}/services/${api.seg(record.name)}`); } catch { /* keep trying */ }
  }
}
