// Users (admins): search, sort and act on every account.
import * as api from '../api.js';
import {h, clear, toast, when, fullTime, loading, empty, failed, confirmDialog, formDialog} from '../dom.js';

const base = '/api/v1/users';
const view = {q: '', status: '', sort: 'username', order: 'asc'};
let listBox;

export async function show(main, _rest, session) {
  if (!session.info.admin) return main.append(h('h1', {}, 'Users'), h('p', {class: 'state error'}, 'Only administrators manage users.'));
  listBox = h('div', {id: 'user-list'}, loading('users'));
  const search = h('input', {type: 'search', id: 'user-q', placeholder: 'Name, username or email', value: view.q});
  const status = h('select', {id: 'user-status'},
    [['', 'Everyone'], ['inactive', 'Waiting for activation'], ['active', 'Active'], ['admin', 'Administrators']]
      .map(([value, label]) => h('option', {value, selected: view.status === value}, label)));
  let timer;
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => { view.q = search.value; refresh(); }, 250); });
  status.addEventListener('change', () => { view.status = status.value; refresh(); });
  main.append(h('h1', {}, 'Users'),
    h('div', {class: 'filters'},
      h('label', {for: 'user-q'}, 'Search'), search,
      h('label', {for: 'user-status'}, 'Show'), status),
    listBox);
  await refresh();
}

async function refresh() {
  const query = new URLSearchParams({sort: view.sort, order: view.order});
  if (view.q) query.set('q', view.q);
  if (view.status) query.set('status', view.status);
  try {
    const {users} = await api.get(`${base}?${query}`);
    if (users.length === 0) return clear(listBox, empty(view.q || view.status ? 'Nobody matches.' : 'No users yet.'));
    const header = (key, label) => h('th', {scope: 'col', 'aria-sort': view.sort === key ? (view.order === 'desc' ? 'descending' : 'ascending') : 'none'},
      h('button', {type: 'button', class: 'link', onclick: () => {
        view.order = view.sort === key && view.order === 'asc' ? 'desc' : 'asc';
        view.sort = key;
        refresh();
      }}, label));
    clear(listBox, h('table', {},
      h('thead', {}, h('tr', {}, header('username', 'Username'), header('name', 'Name'), header('email', 'Email'),
        h('th', {scope: 'col'}, 'Status'), header('last_login', 'Last sign-in'), h('th', {scope: 'col'}, 'Actions'))),
      h('tbody', {}, users.map(row))));
  } catch (error) { clear(listBox, failed(error, refresh)); }
}

function row(user) {
  const act = (label, action, options = {}) => h('button', {type: 'button', class: `small ${options.danger ? 'danger' : ''}`,
    onclick: () => run(user, action)}, label);
  return h('tr', {dataset: {username: user.username}},
    h('td', {}, user.username), h('td', {}, user.full_name), h('td', {}, user.email),
    h('td', {}, h('span', {class: `pill ${user.active ? 'ready' : 'stopped'}`}, user.active ? 'Active' : 'Waiting'),
      user.admin ? h('span', {class: 'tag'}, 'admin') : null),
    h('td', {title: fullTime(user.last_login)}, user.last_login ? when(user.last_login) : 'Never'),
    h('td', {class: 'actions'},
      user.active ? act('Deactivate', 'deactivate') : act('Activate', 'activate'),
      user.admin ? act('Demote', 'demote') : act('Promote', 'promote'),
      act('Edit', 'edit'), act('Reset password', 'password'),
      user.active ? act('Impersonate', 'impersonate') : null,
      act('Delete', 'delete', {danger: true})));
}

async function run(user, action) {
  const path = `${base}/${api.seg(user.username)}`;
  try {
    switch (action) {
      case 'edit': {
        const values = await formDialog({title: `Edit ${user.username}`, fields: [
          {name: 'full_name', label: 'Full name', value: user.full_name},
          {name: 'email', label: 'Email', type: 'email', value: user.email, required: true}]});
        if (!values) return;
        await api.patch(path, values);
        break;
      }
      case 'password': {
        if (!await confirmDialog({title: `Reset ${user.username}'s password?`, confirm: 'Reset',
          text: 'A new password is made and shown once; their sessions end.'})) return;
        const answer = await api.post(`/api/v1/identity/users/${api.seg(user.username)}/password`);
        await confirmDialog({title: 'New password', confirm: 'Done', text: `Give ${user.username} this password: ${answer.password}`});
        break;
      }
      case 'impersonate':
        await api.post('/auth/impersonate', {username: user.username});
        location.hash = '#/services';
        location.reload();
        return;
      case 'delete':
        if (!await confirmDialog({title: `Delete ${user.username}?`, danger: true, confirm: 'Delete', typed: user.username,
          text: 'Their services and space are removed and their private files archived.'})) return;
        await api.del(`${path}?confirm=${encodeURIComponent(user.username)}`);
        break;
      default:
        await api.post(`${path}/${action}`);
    }
    toast(`${user.username}: done`);
    refresh();
  } catch (error) { toast(error.message, 'error'); }
}
