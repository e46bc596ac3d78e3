// The audit log: admins see every entry, everyone else what concerns them.
import * as api from '../api.js';
import {h, clear, fullTime, loading, empty, failed} from '../dom.js';

let listBox;

export async function show(main, _rest, session) {
  listBox = h('div', {id: 'audit-list'}, loading('the audit log'));
  const search = h('input', {type: 'search', id: 'audit-q', 'aria-label': 'Search the audit log', placeholder: 'Search actions, people…'});
  let timer;
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => refresh(search.value), 250); });
  main.append(h('h1', {}, 'Audit log'),
    h('p', {}, session.info.admin ? 'Every administrative action, sign-in change and token, newest first.' : 'What was done to your account, newest first.'),
    search, listBox);
  await refresh('');
}

async function refresh(query) {
  try {
    const {entries} = await api.get(`/api/v1/users/audit?limit=200${query ? `&q=${encodeURIComponent(query)}` : ''}`);
    if (entries.length === 0) return clear(listBox, empty(query ? 'Nothing matches.' : 'Nothing recorded yet.'));
    clear(listBox, h('table', {},
      h('thead', {}, h('tr', {}, ['When', 'Who', 'Action', 'About', 'Outcome', 'Detail'].map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, entries.map((e) => h('tr', {},
        h('td', {}, fullTime(e.at)), h('td', {}, e.actor), h('td', {}, h('code', {}, e.action)),
        h('td', {}, e.subject ?? ''), h('td', {}, e.outcome ?? ''), h('td', {}, e.detail ?? ''))))));
  } catch (error) { clear(listBox, failed(error, () => refresh(query))); }
}
