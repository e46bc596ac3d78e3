// Every call the dashboard makes goes through here: the public API, as any
// other client sees it. Errors come back as Knot's JSON shape and are turned
// into one sentence a person can act on.

export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const plainWords = {
  401: 'Your session has ended. Sign in again to continue.',
  403: 'You are not allowed to do that.',
  404: 'That no longer exists.',
  409: 'That conflicts with something that already exists.',
  413: 'That is too large.',
  429: 'Too many requests at once. Wait a moment and try again.',
  502: 'A part of Knot is not answering. Try again in a moment.',
  503: 'Knot is starting or busy. Try again in a moment.',
  504: 'Knot took too long to answer. Try again.',
};

async function failure(response) {
  let code = 'error';
  let message = '';
  try {
    const body = await response.json();
    code = body?.error?.code ?? code;
    message = body?.error?.message ?? '';
  } catch {
    // Not JSON (a proxy page, say): fall back to the status's plain words.
  }
  if (!message) message = plainWords[response.status] ?? `Something went wrong (${response.status}).`;
  else message = message.charAt(0).toUpperCase() + message.slice(1) + (/[.!?]$/.test(message) ? '' : '.');
  return new APIError(response.status, code, message);
}

export async function request(method, path, {json, body, headers = {}, signal, raw = false} = {}) {
  const init = {method, credentials: 'same-origin', headers: {...headers}, signal};
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['Content-Type'] = 'application/json';
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new APIError(0, 'network', 'Knot cannot be reached. Check your connection and try again.');
  }
  if (!response.ok) throw await failure(response);
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') ?? '';
  return type.includes('json') ? response.json() : response.text();
}

export const get = (path, options) => request('GET', path, options);
export const post = (path, json, options = {}) => request('POST', path, {...options, json});
export const patch = (path, json, options = {}) => request('PATCH', path, {...options, json});
export const del = (path, options) => request('DELETE', path, options);

/// A path segment made safe for a URL (names may hold spaces, `#`, `?`…).
export const seg = (name) => encodeURIComponent(name);
export const pathOf = (parts) => parts.map(seg).join('/');
