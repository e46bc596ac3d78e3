// Personal API tokens: for knotctl, notebooks and scripts. A new token is
// shown once, then only its name and dates.
import * as api from '../api.js';
import {h, clear, toast, when, fullTime, loading, empty, failed, confirmDialog, announce} from '../dom.js';

const base = '/api/v1/identity/tokens';
let listBox;

export async function show(main) {
  listBox = h('div', {id: 'token-list'}, loading('your tokens'));
  const reveal = h('div', {id: 'new-token', 'aria-live': 'polite'});
  const form = h('form', {class: 'inline', id: 'token-form'},
    h('div', {class: 'field'}, h('label', {for: 'token-name'}, 'Name'),
      h('input', {id: 'token-name', name: 'name', required: true, maxlength: 64, autocomplete: 'off', placeholder: 'laptop, notebook…'})),
    h('div', {class: 'field'}, h('label', {for: 'token-scope'}, 'Access'),
      h('select', {id: 'token-scope', name: 'scope'}, h('option', {value: 'full'}, 'Full'), h('option', {value: 'read'}, 'Read only'))),
    h('div', {class: 'field'}, h('label', {for: 'token-days'}, 'Expires after (days)'),
      h('input', {id: 'token-days', name: 'days', type: 'number', min: 1, max: 365, value: 90})),
    h('button', {type: 'submit', class: 'primary'}, 'Create token'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const token = await api.post(base, {name: form.elements.name.value, scope: form.elements.scope.value,
        expires_in_days: Number(form.elements.days.value)});
      clear(reveal, h('div', {class: 'state ok'},
        h('p', {}, 'Copy this token now: it will not be shown again.'),
        h('code', {class: 'secret', id: 'token-value'}, token.token),
        h('button', {type: 'button', class: 'small', onclick: () => navigator.clipboard?.writeText(token.token).then(() => announce('Token copied'))}, 'Copy')));
      form.reset();
      refresh();
    } catch (error) { toast(error.message, 'error'); }
  });
  main.append(h('h1', {}, 'API tokens'),
    h('p', {}, 'A token lets a program act as you through the API (', h('code', {}, 'Authorization: Bearer …'), '). Read-only tokens can only look.'),
    form, reveal, listBox);
  await refresh();
}

async function refresh() {
  try {
    const {tokens} = await api.get(base);
    if (tokens.length === 0) return clear(listBox, empty('You have no tokens.'));
    clear(listBox, h('table', {},
      h('thead', {}, h('tr', {}, ['Name', 'Access', 'Created', 'Last used', 'Expires', ''].map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, tokens.map((token) => h('tr', {dataset: {name: token.name}},
        h('td', {}, token.name), h('td', {}, token.scope === 'read' ? 'Read only' : 'Full'),
        h('td', {title: fullTime(token.created_at)}, when(token.created_at)),
        h('td', {}, token.last_used_at ? when(token.last_used_at) : 'Never'),
        h('td', {}, fullTime(token.expires_at)),
        h('td', {}, h('button', {type: 'button', class: 'small danger', onclick: () => revoke(token)}, 'Revoke')))))));
  } catch (error) { clear(listBox, failed(error, refresh)); }
}

async function revoke(token) {
  if (!await confirmDialog({title: `Revoke ${token.name}?`, text: 'Programs using it stop working at once.', confirm: 'Revoke', danger: true})) return;
  try { await api.del(`${base}/${token.id}`); refresh(); } catch (error) { toast(error.message, 'error'); }
}
