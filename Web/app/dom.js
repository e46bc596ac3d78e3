// Building the page without innerHTML: text is always text, so nothing a
// user named a file or a service can ever run as markup.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2), value);
    else if (key === 'class') element.className = value;
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(key, '');
    else element.setAttribute(key, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/// A polite live region: screen readers hear what changed without losing focus.
export function announce(text) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  setTimeout(() => { region.textContent = text; }, 50);
}

/// A short message at the top of the screen; errors stay until dismissed.
export function toast(text, kind = 'info') {
  const box = document.getElementById('toasts');
  const item = h('div', {class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status'},
    h('span', {}, text),
    h('button', {type: 'button', class: 'link', 'aria-label': 'Dismiss', onclick: () => item.remove()}, '×'));
  box.append(item);
  if (kind !== 'error') setTimeout(() => item.remove(), 5000);
}

export function bytes(n) {
  if (n === undefined || n === null) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = Number(n);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit++; }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

export function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  const seconds = (Date.now() - date.getTime()) / 1000;
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return date.toLocaleDateString(undefined, {year: 'numeric', month: 'short', day: 'numeric'});
}

export const fullTime = (iso) => (iso ? new Date(iso).toLocaleString() : '');

/// The three states every list has besides its content.
export const loading = (what) => h('p', {class: 'state loading', role: 'status'}, `Loading ${what}…`);
export const empty = (text, ...action) => h('div', {class: 'state empty'}, h('p', {}, text), action);
export const failed = (error, retry) => h('div', {class: 'state error', role: 'alert'},
  h('p', {}, error.message ?? String(error)),
  retry ? h('button', {type: 'button', onclick: retry}, 'Try again') : null);

/// A confirmation dialog (the native <dialog>, so focus and Escape work).
export function confirmDialog({title, text, confirm = 'Confirm', danger = false, typed}) {
  return new Promise((resolve) => {
    const input = typed ? h('input', {type: 'text', id: 'confirm-typed', autocomplete: 'off'}) : null;
    const ok = h('button', {type: 'submit', class: danger ? 'danger' : 'primary', value: 'ok'}, confirm);
    const dialog = h('dialog', {'aria-labelledby': 'dialog-title'},
      h('form', {method: 'dialog'},
        h('h2', {id: 'dialog-title'}, title),
        h('p', {}, text),
        typed ? [h('label', {for: 'confirm-typed'}, `Type ${typed} to confirm`), input] : null,
        h('div', {class: 'actions'},
          h('button', {type: 'submit', value: 'cancel'}, 'Cancel'), ok)));
    if (typed) {
      ok.disabled = true;
      input.addEventListener('input', () => { ok.disabled = input.value !== typed; });
    }
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/// A dialog holding any form; resolves with the form's values, or null when cancelled.
export function formDialog({title, fields, submit = 'Save', intro}) {
  return new Promise((resolve) => {
    const dialog = h('dialog', {'aria-labelledby': 'dialog-title'});
    const form = h('form', {method: 'dialog'},
      h('h2', {id: 'dialog-title'}, title),
      intro ? h('p', {}, intro) : null,
      fields.map((field) => h('div', {class: 'field'},
        h('label', {for: `f-${field.name}`}, field.label),
        field.choices
          ? h('select', {id: `f-${field.name}`, name: field.name},
            field.choices.map((choice) => h('option', {value: choice, selected: choice === field.value}, choice)))
          : h('input', {id: `f-${field.name}`, name: field.name, type: field.type ?? 'text', value: field.value ?? '',
            required: field.required, autocomplete: 'off'}),
        field.help ? h('p', {class: 'help'}, field.help) : null)),
      h('div', {class: 'actions'},
        h('button', {type: 'button', onclick: () => dialog.close('cancel')}, 'Cancel'),
        h('button', {type: 'submit', class: 'primary', value: 'ok'}, submit)));
    dialog.append(form);
    dialog.addEventListener('close', () => {
      const values = dialog.returnValue === 'ok' ? Object.fromEntries(new FormData(form)) : null;
      resolve(values);
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
