// The dashboard talks only to the public API, like any other client.
async function load() {
  const me = await fetch('/api/v1/users/me', {credentials: 'same-origin'});
  if (me.status === 401) {
    document.getElementById('signed-out').hidden = false;
    return;
  }
  const user = await me.json();
  document.getElementById('who').textContent = user.username + (user.admin ? ' (admin)' : '');
  document.getElementById('signed-in').hidden = false;
  const answer = await fetch('/api/v1/launcher/services', {credentials: 'same-origin'});
  const list = document.getElementById('services');
  list.replaceChildren();
  if (!answer.ok) return;
  const {services} = await answer.json();
  if (services.length === 0) {
    const empty = document.createElement('li');
    empty.textContent = 'No services yet.';
    list.append(empty);
  }
  for (const service of services) {
    const item = document.createElement('li');
    const link = document.createElement('a');
    link.href = service.url;
    link.textContent = service.name;
    const status = document.createElement('span');
    status.className = 'status';
    status.textContent = service.status;
    item.append(link, status);
    list.append(item);
  }
}
load();
