// The integrated tools (JupyterHub, Argo Workflows, Harbor, Gitea, Grafana)
// in the menu: only those this installation configured, as the users service
// lists them for the signed-in profile. They sign in through Knot, so the
// links go straight to each tool. Nothing is drawn when none is configured.
import * as api from './api.js';
import {h} from './dom.js';

export async function drawIntegrations(nav) {
  let integrations = [];
  try {
    ({integrations} = await api.get('/api/v1/users/integrations'));
  } catch { return; /* the menu works without the tools */ }
  nav.querySelector('#menu-tools')?.remove();
  const safe = (integrations ?? []).filter((item) => /^https?:\/\//.test(item.url));
  if (safe.length === 0) return;
  nav.append(h('ul', {id: 'menu-tools', class: 'tools', 'aria-label': 'Tools'},
    safe.map((item) => h('li', {},
      h('a', {href: item.url, id: `menu-tool-${item.id}`, rel: 'noopener', dataset: {tool: item.tool}},
        item.title, h('span', {class: 'external', 'aria-hidden': 'true'}, ' ↗'))))));
}
