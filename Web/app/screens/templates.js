// Templates: the catalogue (built-in, admin, shared, private), with uploads
// of one's own and launching from here.
import * as api from '../api.js';
import {h, clear, toast, loading, failed, confirmDialog} from '../dom.js';

const base = '/api/v1/launcher/templates';

export async function show(main) {
  const box = h('div', {id: 'template-list'}, loading('templates'));
  const picker = h('input', {type: 'file', id: 'template-file', accept: '.yaml,.yml', class: 'visually-hidden'});
  picker.addEventListener('change', async () => {
    const file = picker.files[0];
    picker.value = '';
    if (!file) return;
    try {
      const id = file.name.replace(/\.template\.ya?ml$|\.ya?ml$/, '');
      await api.request('POST', `${base}?id=${encodeURIComponent(id)}`, {body: await file.text(), headers: {'Content-Type': 'application/yaml'}});
      toast(`${file.name} added to your templates`);
      draw(box);
    } catch (error) { toast(error.message, 'error'); }
  });
  main.append(h('div', {class: 'title-row'}, h('h1', {}, 'Templates'),
    h('label', {class: 'button', for: 'template-file', tabindex: 0, id: 'add-template',
      onkeydown: (event) => { if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); picker.click(); } }}, 'Add a template'), picker),
  h('p', {}, 'Later sources override earlier ones with the same id: built-in, admin, shared, then your own (the ', h('code', {}, 'services'), ' folder in your files).'),
  box);
  await draw(box);
}

async function draw(box) {
  try {
    const {templates} = await api.get(base);
    clear(box, h('table', {},
      h('thead', {}, h('tr', {}, ['Template', 'Source', 'Version', 'Availability', 'Actions'].map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, templates.map((t) => h('tr', {dataset: {template: t.id}},
        h('td', {}, h('strong', {}, t.name), h('br'), h('span', {class: 'help'}, t.description)),
        h('td', {}, h('span', {class: 'tag'}, t.source)),
        h('td', {}, t.version ?? ''),
        h('td', {}, t.available ? 'Ready to launch' : h('span', {class: 'unavailable'}, t.problem ?? t.unavailable_reason ?? 'Not available')),
        h('td', {class: 'actions'},
          t.available ? h('a', {class: 'button small primary', href: `#/services/new/${encodeURIComponent(t.id)}`}, 'Launch') : null,
          h('a', {class: 'button small', href: `${base}/${api.seg(t.id)}?format=yaml`, download: `${t.id}.template.yaml`}, 'Download'),
          t.source === 'private' ? h('button', {type: 'button', class: 'small danger', onclick: async () => {
            if (!await confirmDialog({title: `Delete ${t.name}?`, text: 'The template file is removed from your services folder. Services launched from it keep running.', confirm: 'Delete', danger: true})) return;
            try { await api.del(`${base}/${api.seg(t.id)}`); draw(box); } catch (error) { toast(error.message, 'error'); }
          }}, 'Delete') : null))))));
  } catch (error) { clear(box, failed(error, () => draw(box))); }
}
