// The site's theme, from the admin domain's theme/ folder (GET /api/v1/files/theme):
// colours as CSS custom properties, the logo and title in the header, extra
// menu entries as external links. The files service has already validated
// every value (colours are #rrggbb, addresses http(s) or same-site); they are
// still only ever set as property values, attributes and text, never as markup
// or CSS text, so a theme cannot add script or rules to the page.
import * as api from './api.js';
import {h, clear} from './dom.js';

/// Theme colour name → the custom property knot.css paints with.
const properties = {
  primary: '--accent',
  primary_text: '--accent-ink',
  accent: '--highlight',
  background: '--ground',
  surface: '--paper',
  text: '--ink',
  muted: '--muted',
};

const hex = /^#[0-9a-f]{6}$/;
let title = 'Knot';

/// The site's name, for the window title.
export const siteTitle = () => title;

export async function applyTheme(session) {
  let theme;
  try {
    theme = await api.get('/api/v1/files/theme');
  } catch (error) {
    // The default look is a fine fallback; admins hear why.
    if (session?.info?.admin) showWarnings([`The theme could not be loaded: ${error.message}`]);
    return;
  }
  const root = document.documentElement.style;
  for (const [name, property] of Object.entries(properties)) {
    const value = theme.colours?.[name];
    // setProperty through the CSSOM is not an inline style in the CSP's sense, and a
    // value that is not a colour would be refused by the check here anyway.
    if (typeof value === 'string' && hex.test(value)) root.setProperty(property, value);
    else root.removeProperty(property);
  }
  title = typeof theme.title === 'string' && theme.title ? theme.title : 'Knot';
  drawBrand(theme);
  drawMenu(theme.menu ?? []);
  if (session?.info?.admin && theme.warnings?.length) showWarnings(theme.warnings);
  const heading = document.querySelector('main h1');
  if (heading) document.title = `${heading.textContent} · ${title}`;
}

function drawBrand(theme) {
  const brand = document.getElementById('brand');
  if (!brand) return;
  const logo = typeof theme.logo === 'string' && theme.logo.startsWith('/api/v1/files/theme/logo') ? theme.logo : null;
  // The logo is decorative beside the title text, so screen readers hear the name once.
  clear(brand, logo ? h('img', {src: logo, alt: '', class: 'logo', id: 'brand-logo'}) : null,
    h('span', {id: 'brand-title'}, title));
}

function drawMenu(entries) {
  const list = document.querySelector('#menu ul');
  if (!list) return;
  for (const old of list.querySelectorAll('li.theme-link')) old.remove();
  for (const entry of entries) {
    const url = safeURL(entry.url);
    if (!url || typeof entry.title !== 'string') continue;
    list.append(h('li', {class: 'theme-link'},
      h('a', {href: url, class: 'external', target: '_blank', rel: 'noopener noreferrer'},
        entry.title, h('span', {class: 'visually-hidden'}, ' (opens in a new tab)'))));
  }
}

/// The browser's own parse, as a second check after the server's: only http(s).
function safeURL(text) {
  if (typeof text !== 'string') return null;
  try {
    const url = new URL(text, location.origin);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch { return null; }
}

/// Problems with the theme files, in words, for admins only (everyone else just sees the default look).
function showWarnings(warnings) {
  const main = document.getElementById('main');
  document.getElementById('theme-warnings')?.remove();
  const box = h('section', {id: 'theme-warnings', class: 'theme-warnings', role: 'status', 'aria-labelledby': 'theme-warnings-title'},
    h('h2', {id: 'theme-warnings-title'}, 'The theme has problems (only admins see this)'),
    h('ul', {}, warnings.map((text) => h('li', {}, text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.')))),
    h('p', {class: 'help'}, 'Fix admin/theme/theme.json on the Files screen; see docs/theme.md.'),
    h('button', {type: 'button', class: 'small', onclick: () => box.remove()}, 'Dismiss'));
  main.before(box);
}
