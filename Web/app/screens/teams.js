// Teams: profiles people share, with their own namespace and files.
import * as api from '../api.js';
import {h, clear, toast, loading, empty, failed, confirmDialog, formDialog} from '../dom.js';

const base = '/api/v1/users/teams';

export async function show(main, [team], session) {
  if (team) return showTeam(main, team, session);
  const listBox = h('div', {id: 'team-list'}, loading('your teams'));
  main.append(h('div', {class: 'title-row'}, h('h1', {}, 'Teams'),
    session.info.role ? null : h('button', {type: 'button', class: 'primary', id: 'new-team', onclick: async () => {
      const values = await formDialog({title: 'New team', submit: 'Create', fields: [
        {name: 'name', label: 'Name', required: true, help: 'Lowercase letters, digits and hyphens; also the team\'s address part.'},
        {name: 'full_name', label: 'Full name'}]});
      if (!values) return;
      try { await api.post(base, values); location.hash = `#/teams/${encodeURIComponent(values.name)}`; } catch (error) { toast(error.message, 'error'); }
    }}, 'New team')),
  listBox);
  try {
    const {teams} = await api.get(base);
    if (teams.length === 0) return clear(listBox, empty('You are in no team. A team shares services and files between people.'));
    clear(listBox, h('ul', {class: 'cards'}, teams.map((membership) => h('li', {class: 'card'},
      h('h2', {}, h('a', {href: `#/teams/${encodeURIComponent(membership.team)}`}, membership.team)),
      h('p', {}, `Your role: ${membership.role}`),
      h('button', {type: 'button', onclick: () => switchTo(membership.team)}, 'Act as this team')))));
  } catch (error) { clear(listBox, failed(error)); }
}

async function switchTo(team) {
  try {
    await api.post('/auth/profile', {team});
    location.hash = '#/services';
    location.reload();
  } catch (error) { toast(error.message, 'error'); }
}

async function showTeam(main, name, session) {
  const box = h('div', {}, loading('the team'));
  main.append(h('p', {class: 'crumbs'}, h('a', {href: '#/teams'}, 'Teams'), ` › ${name}`), h('h1', {}, name), box);
  const draw = async () => {
    try {
      const view = await api.get(`${base}/${api.seg(name)}`);
      const mine = view.members.find((m) => m.username === (session.info.actor ?? session.info.username));
      const owner = mine?.role === 'owner' || session.info.admin;
      clear(box,
        h('table', {},
          h('thead', {}, h('tr', {}, ['Member', 'Name', 'Role', ''].map((c) => h('th', {scope: 'col'}, c)))),
          h('tbody', {}, view.members.map((member) => h('tr', {},
            h('td', {}, member.username), h('td', {}, member.full_name), h('td', {}, member.role),
            h('td', {}, owner ? h('button', {type: 'button', class: 'small danger', onclick: async () => {
              try { await api.del(`${base}/${api.seg(name)}/members/${api.seg(member.username)}`); draw(); } catch (error) { toast(error.message, 'error'); }
            }}, 'Remove') : null))))),
        owner ? h('div', {class: 'actions'},
          h('button', {type: 'button', onclick: async () => {
            const values = await formDialog({title: 'Add a member', submit: 'Add', fields: [
              {name: 'username', label: 'Username', required: true},
              {name: 'role', label: 'Role', value: 'editor', choices: ['viewer', 'editor', 'owner'],
                help: 'Viewers open the team\'s services, editors also launch and stop them, owners manage members.'}]});
            if (!values) return;
            try { await api.post(`${base}/${api.seg(name)}/members`, values); draw(); } catch (error) { toast(error.message, 'error'); }
          }}, 'Add member'),
          h('button', {type: 'button', class: 'danger', onclick: async () => {
            if (!await confirmDialog({title: `Delete the team ${name}?`, danger: true, confirm: 'Delete', typed: name,
              text: 'Its services and space are removed.'})) return;
            try { await api.del(`${base}/${api.seg(name)}?confirm=${encodeURIComponent(name)}`); location.hash = '#/teams'; } catch (error) { toast(error.message, 'error'); }
          }}, 'Delete team')) : null);
    } catch (error) { clear(box, failed(error, draw)); }
  };
  await draw();
}
