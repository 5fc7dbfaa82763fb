// Fetch wrapper for the indunet HTTP API.
//
// Every call goes through `request()`: it adds the bearer token, turns
// `application/problem+json` (RFC 9457) answers into `ApiError`, and on a 401
// drops the token and calls the handler set with `onUnauthorized()` (the app
// sends the user back to the login page). Network failures become an
// `ApiError` with `status === 0`. Aborted requests re-throw the `AbortError`.

const API_BASE = '/api';
const TOKEN_KEY = 'indunet.token';
const EXPIRES_KEY = 'indunet.tokenExpires';

export class ApiError extends Error {
  constructor({ status = 0, title = '', detail = '', type = 'about:blank', errors = [] } = {}) {
    super(detail || title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.type = type;
    // A problem's itemised errors (e.g. [{path, message}]) for forms that show them by field.
    this.errors = errors;
  }

  get isNetwork() {
    return this.status === 0;
  }
}

export const session = {
  get token() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const expires = Number(sessionStorage.getItem(EXPIRES_KEY) || 0);
    if (!token) return null;
    if (expires && Date.now() >= expires) {
      this.clear();
      return null;
    }
    return token;
  },
  store(token, expiresIn) {
    sessionStorage.setItem(TOKEN_KEY, token);
    if (Number.isFinite(expiresIn) && expiresIn > 0) {
      sessionStorage.setItem(EXPIRES_KEY, String(Date.now() + expiresIn * 1000));
    } else {
      sessionStorage.removeItem(EXPIRES_KEY);
    }
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(EXPIRES_KEY);
  },
  get isAuthenticated() {
    return this.token !== null;
  },
};

let unauthorizedHandler = () => {};

/** Register the function called once a request with a token gets a 401. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

function buildUrl(path, params) {
  const url = new URL(API_BASE + path, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (v === undefined || v === null || v === '') continue;
      url.searchParams.append(key, String(v));
    }
  }
  return url;
}

/** FastAPI's own errors are `{"detail": "..."}` or `{"detail": [{"msg": ...}]}`. */
function detailText(detail) {
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => (d && typeof d === 'object' ? d.msg || JSON.stringify(d) : String(d))).join('; ');
  }
  return detail == null ? '' : JSON.stringify(detail);
}

async function toApiError(response) {
  let body = null;
  const type = response.headers.get('content-type') || '';
  if (type.includes('json')) {
    try {
      body = await response.json();
    } catch {
      body = null;
    }
  }
  return new ApiError({
    status: response.status,
    title: (body && body.title) || response.statusText,
    detail: body ? detailText(body.detail) : '',
    type: (body && body.type) || 'about:blank',
    errors: body && Array.isArray(body.errors) ? body.errors : [],
  });
}

/**
 * Call the API. `params` values may be arrays (repeated keys); `form` sends
 * application/x-www-form-urlencoded; `auth: false` skips the token and the
 * 401 handler (used by the login call, whose 401 is a normal answer).
 */
export async function request(path, options = {}) {
  return (await requestWithStatus(path, options)).body;
}

/** As `request`, answering `{ status, body }` for callers to whom 200 and 201 mean different things. */
export async function requestWithStatus(path, { method = 'GET', params, form, json, signal, auth = true } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  let body;
  if (form) {
    body = new URLSearchParams(form);
  } else if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  if (auth) {
    const token = session.token;
    if (token) headers.Authorization = `Bearer ${token}`;
  }

  let response;
  try {
    response = await fetch(buildUrl(path, params), { method, headers, body, signal, credentials: 'same-origin' });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError({ status: 0, title: 'network', detail: '' });
  }

  if (!response.ok) {
    const error = await toApiError(response);
    if (response.status === 401 && auth) {
      session.clear();
      unauthorizedHandler(error);
    }
    throw error;
  }
  return { status: response.status, body: response.status === 204 ? null : await response.json() };
}

/** Fetch a file the API makes (with the session's token) and hand it to the browser as a download. */
export async function download(path, params, filename) {
  const headers = {};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const response = await fetch(buildUrl(path, params), { headers, credentials: 'same-origin' });
  if (!response.ok) throw await toApiError(response);
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement('a'), { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const seg = encodeURIComponent;

export const api = {
  async login(email, password) {
    const token = await request('/auth/token', {
      method: 'POST',
      form: { grant_type: 'password', username: email, password },
      auth: false,
    });
    session.store(token.access_token, Number(token.expires_in));
    return token;
  },
  me: (opts) => request('/auth/me', opts),
  devices: ({ limit = 50, offset = 0, q = '' } = {}, opts = {}) =>
    request('/devices', { ...opts, params: { limit, offset, q } }),
  device: (id, opts) => request(`/devices/${seg(id)}`, opts),
  twin: (id, opts) => request(`/devices/${seg(id)}/twin`, opts),
  deviceType: (name, opts) => request(`/device-types/${seg(name)}`, opts),
  telemetry: (id, { points, start, limit = 10000 }, opts = {}) =>
    request(`/telemetry/${seg(id)}`, { ...opts, params: { point: points, start, limit } }),
  audit: ({ limit = 50, offset = 0 } = {}, opts = {}) => request('/audit', { ...opts, params: { limit, offset } }),
};
