// The dashboard's shell: who is signed in, the menu, the acting-as banner,
// and a hash router that hands the page to one screen module at a time.
import * as api from './api.js';
import {h, clear, announce, toast} from './dom.js';
import {drawIntegrations} from './integrations.js';
import {applyTheme, siteTitle} from './theme.js';

const screens = {
  services: () => import('./screens/services.js'),
  templates: () => import('./screens/templates.js'),
  files: () => import('./screens/files.js'),
  messages: () => import('./screens/messages.js'),
  tokens: () => import('./screens/tokens.js'),
  users: () => import('./screens/users.js'),
  teams: () => import('./screens/teams.js'),
  audit: () => import('./screens/audit.js'),
  images: () => import('./screens/images.js'),
  api: () => import('./screens/api.js'),
};

const menu = [
  {id: 'services', label: 'Services'},
  {id: 'templates', label: 'Templates'},
  {id: 'files', label: 'Files'},
  {id: 'images', label: 'Images', registry: true},
  {id: 'teams', label: 'Teams'},
  {id: 'messages', label: 'Messages'},
  {id: 'tokens', label: 'API tokens'},
  {id: 'users', label: 'Users', admin: true},
  {id: 'audit', label: 'Audit log'},
  {id: 'api', label: 'API'},
];

export const session = {me: null, info: null, profile: null};
let current = null;

async function start() {
  let info;
  try {
    info = await api.get('/api/v1/identity/session');
  } catch (error) {
    if (error.status === 401) return signedOut();
    return clear(document.getElementById('main'), h('p', {class: 'state error', role: 'alert'}, error.message));
  }
  session.info = info;
  const registry = api.get('/api/v1/images/status').catch(() => null);
  const [me, profile] = await Promise.all([
    api.get('/api/v1/users/me').catch(() => null),
    api.get('/api/v1/users/me/profile').catch(() => null),
  ]);
  session.me = me;
  session.profile = profile;
  session.registry = await registry;
  drawHeader();
  applyTheme(session);
  drawBanner();
  refreshUnread();
  window.addEventListener('hashchange', route);
  route();
}

function signedOut() {
  document.body.classList.add('signed-out');
  const next = encodeURIComponent(location.href);
  clear(document.getElementById('main'),
    h('section', {class: 'welcome'},
      h('h1', {}, 'Welcome to Knot'),
      h('p', {}, 'Launch notebooks and services into your own space, and keep your files beside them.'),
      h('p', {}, h('a', {class: 'button primary', href: `/auth/login?next=${next}`}, 'Sign in'), ' ',
        h('a', {href: '/auth/signup'}, 'or create an account'))));
}

function drawHeader() {
  const admin = session.info.admin;
  const nav = document.getElementById('menu');
  clear(nav, h('ul', {},
    menu.filter((item) => (!item.admin || admin) && (!item.registry || session.registry)).map((item) => h('li', {},
      h('a', {href: `#/${item.id}`, id: `menu-${item.id}`, dataset: {screen: item.id}},
        item.label, item.id === 'messages' ? h('span', {class: 'badge', id: 'unread', hidden: true}) : null)))));
  drawIntegrations(nav);
  const who = document.getElementById('who');
  clear(who,
    h('span', {id: 'who-name'}, session.info.username, admin ? h('span', {class: 'tag'}, 'admin') : null),
    h('a', {href: '/auth/password'}, 'Password'),
    h('button', {type: 'button', class: 'link', id: 'sign-out', onclick: signOut}, 'Sign out'));
}

/// Impersonation and team profiles are never silent: a banner with one click back.
function drawBanner() {
  const banner = document.getElementById('banner');
  const {actor, username, role} = session.info;
  if (!actor) return clear(banner);
  const team = session.me?.kind === 'team';
  banner.hidden = false;
  clear(banner,
    h('p', {},
      team ? `You are acting as the team ${username} (${role ?? 'member'}), as ${actor}.`
        : `You are acting as ${username}. You are ${actor}.`),
    h('button', {type: 'button', id: 'act-back', onclick: async () => {
      try {
        await api.del(team ? '/auth/profile' : '/auth/impersonate');
        location.hash = team ? '#/teams' : '#/users';
        location.reload();
      } catch (error) { toast(error.message, 'error'); }
    }}, team ? 'Back to yourself' : `Back to ${actor}`));
}

async function signOut() {
  try {
    await api.post('/auth/logout');
  } finally {
    location.href = '/auth/login';
  }
}

export async function refreshUnread() {
  try {
    const {unread} = await api.get('/api/v1/users/messages');
    const badge = document.getElementById('unread');
    if (!badge) return;
    badge.hidden = unread === 0;
    badge.textContent = String(unread);
    badge.setAttribute('aria-label', `${unread} unread`);
  } catch { /* the count is a nicety; the screen shows errors */ }
}

async function route() {
  const [id, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  const name = screens[id] ? id : 'services';
  for (const link of document.querySelectorAll('#menu a')) {
    if (link.dataset.screen === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  current?.leave?.();
  const main = document.getElementById('main');
  const module = await screens[name]();
  current = module;
  clear(main);
  await module.show(main, rest.map(decodeURIComponent), session);
  const heading = main.querySelector('h1');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({preventScroll: true});
    document.title = `${heading.textContent} · ${siteTitle()}`;
    announce(heading.textContent);
  }
}

start();
