// Messages: what Knot told the person (a service ready or failed, an account
// activated, a quota nearly full).
import * as api from '../api.js';
import {h, clear, toast, when, fullTime, loading, empty, failed} from '../dom.js';
import {refreshUnread} from '../main.js';

let listBox;

export async function show(main) {
  listBox = h('div', {id: 'message-list'}, loading('your messages'));
  main.append(h('div', {class: 'title-row'}, h('h1', {}, 'Messages'),
    h('button', {type: 'button', id: 'read-all', onclick: async () => {
      try { await api.post('/api/v1/users/messages/read'); refresh(); refreshUnread(); } catch (error) { toast(error.message, 'error'); }
    }}, 'Mark all read')), listBox);
  await refresh();
}

async function refresh() {
  try {
    const {messages} = await api.get('/api/v1/users/messages');
    if (messages.length === 0) return clear(listBox, empty('No messages. Knot writes here when a service is ready or fails.'));
    clear(listBox, h('ul', {class: 'messages'}, messages.map((message) => h('li', {class: message.read ? 'read' : 'unread'},
      h('span', {class: `kind ${message.kind.replace('.', '-')}`}, message.kind.split('.').pop()),
      h('span', {}, message.text),
      h('time', {datetime: message.created_at, title: fullTime(message.created_at)}, when(message.created_at)),
      message.read ? null : h('button', {type: 'button', class: 'small', onclick: async () => {
        try { await api.post(`/api/v1/users/messages/${message.id}/read`); refresh(); refreshUnread(); } catch (error) { toast(error.message, 'error'); }
      }}, 'Mark read')))));
  } catch (error) { clear(listBox, failed(error, refresh)); }
}
