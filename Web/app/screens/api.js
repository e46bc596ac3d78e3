// The API reference: each service's OpenAPI document (served by the service
// at /api/v1/<area>/openapi.json) drawn as a readable list of operations.
import * as api from '../api.js';
import {h, clear, loading, failed} from '../dom.js';

const areas = [
  {id: 'identity', title: 'Identity', text: 'Who you are, API tokens, passwords; OAuth clients and keys for admins.'},
  {id: 'users', title: 'Users', text: 'Accounts, teams, messages and the audit trail.'},
  {id: 'launcher', title: 'Launcher', text: 'Templates and the services you run from them.'},
  {id: 'files', title: 'Files', text: 'Your folders: listings, uploads, downloads, share links.'},
];
const methods = ['get', 'head', 'post', 'put', 'patch', 'delete'];

export async function show(main, rest) {
  const chosen = areas.find((a) => a.id === rest[0]) ?? areas[0];
  const body = h('div', {id: 'api-doc'}, loading(`the ${chosen.title} API`));
  main.append(
    h('h1', {}, 'API'),
    h('p', {}, 'Everything the dashboard does goes through these JSON APIs; scripts can use them too with a personal API token ',
      '(', h('code', {}, 'Authorization: Bearer knot_pat_…'), '). Errors always have the shape ',
      h('code', {}, '{"error": {"code", "message"}}'), '.'),
    h('nav', {class: 'tabs', 'aria-label': 'API areas'}, areas.map((a) =>
      h('a', {href: `#/api/${a.id}`, id: `api-tab-${a.id}`, 'aria-current': a.id === chosen.id ? 'page' : null}, a.title))),
    body);
  try {
    const doc = await api.get(`/api/v1/${chosen.id}/openapi.json`);
    clear(body, render(chosen, doc));
  } catch (error) {
    clear(body, failed(error, () => { location.hash = `#/api/${chosen.id}`; }));
  }
}

function render(area, doc) {
  const url = `/api/v1/${area.id}/openapi.json`;
  const paths = Object.entries(doc.paths ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const operations = [];
  for (const [path, item] of paths) {
    for (const method of methods) {
      if (item[method]) operations.push({path, method, op: item[method], shared: item.parameters ?? []});
    }
  }
  return h('section', {'aria-labelledby': `api-${area.id}-title`},
    h('h2', {id: `api-${area.id}-title`}, doc.info?.title ?? area.title),
    h('p', {}, doc.info?.description ?? area.text),
    h('p', {}, 'The OpenAPI document: ', h('a', {href: url, download: `knot-${area.id}-openapi.json`}, url),
      ` (OpenAPI ${doc.openapi}, ${operations.length} operations).`),
    h('ul', {class: 'api-operations'}, operations.map((o) => operation(doc, o))));
}

function operation(doc, {path, method, op, shared}) {
  const parameters = [...shared, ...(op.parameters ?? [])].map((p) => resolve(doc, p));
  const body = op.requestBody ? Object.keys(op.requestBody.content ?? {}) : [];
  const statuses = Object.keys(op.responses ?? {}).filter((s) => s !== 'default');
  return h('li', {class: 'api-operation'},
    h('p', {}, h('code', {class: `method method-${method}`}, method.toUpperCase()), ' ', h('code', {}, path)),
    h('p', {}, op.summary ?? ''),
    parameters.length ? h('dl', {class: 'api-parameters'}, parameters.flatMap((p) => [
      h('dt', {}, h('code', {}, p.name), ` (${p.in}${p.required ? ', required' : ''}${typeName(p.schema)})`),
      h('dd', {}, p.description ?? ''),
    ])) : null,
    body.length ? h('p', {}, 'Body: ', body.map((type) => h('code', {}, type)).reduce((all, c) => (all.length ? [...all, ', ', c] : [c]), [])) : null,
    statuses.length ? h('p', {}, 'Answers: ', statuses.join(', '), '; failures in the error shape.') : null);
}

function resolve(doc, value) {
  if (!value?.$ref) return value;
  return value.$ref.replace(/^#\//, '').split('/').reduce((node, key) => node?.[key], doc) ?? {};
}

function typeName(schema) {
  if (!schema) return '';
  if (schema.enum) return `: ${schema.enum.join(' | ')}`;
  const type = Array.isArray(schema.type) ? schema.type.filter((t) => t !== 'null').join(' | ') : schema.type;
  return type ? `: ${type}${schema.format ? ` (${schema.format})` : ''}` : '';
}
