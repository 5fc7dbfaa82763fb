// Hash router: `#/devices/abc?q=x` -> route `/devices/:id`, params {id}, query {q}.
//
// A page module exports `mount(outlet, ctx)`; it may be async and may return
// a cleanup function, called before the next page mounts (stop timers, abort
// requests). `ctx` is { params, query, path, signal }: `signal` aborts when the
// user leaves the page, so an async mount can stop before touching the outlet.

const routes = [];
let outlet = null;
let guard = () => null;
let cleanup = null;
let generation = 0;
let onError = null;
let pageController = null;
const afterListeners = new Set();

/** Register `pattern` ("/devices/:id") served by the page module `load()` resolves to. */
export function route(pattern, load, meta = {}) {
  const keys = [];
  const source = pattern.replace(/\/:(\w+)/g, (_, key) => {
    keys.push(key);
    return '/([^/]+)';
  });
  routes.push({ pattern, regex: new RegExp(`^${source}/?$`), keys, load, meta });
}

export function parseHash(hash = window.location.hash) {
  const raw = hash.replace(/^#/, '') || '/';
  const [path, search = ''] = raw.split('?');
  return { path: path.startsWith('/') ? path : `/${path}`, query: Object.fromEntries(new URLSearchParams(search)) };
}

export function buildHash(path, query = {}) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '' && v !== 0) search.set(k, String(v));
  }
  const qs = search.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

export function navigate(path, { replace = false, query } = {}) {
  const hash = buildHash(path, query);
  if (replace) window.location.replace(hash);
  else window.location.hash = hash;
}

/** Change the query shown in the address bar without re-mounting the page. */
export function replaceQuery(query) {
  const { path } = parseHash();
  history.replaceState(history.state, '', buildHash(path, query));
}

export function currentPath() {
  return window.location.hash.replace(/^#/, '') || '/';
}

function match(path) {
  for (const r of routes) {
    const m = r.regex.exec(path);
    if (m) {
      const params = {};
      r.keys.forEach((key, i) => { params[key] = decodeURIComponent(m[i + 1]); });
      return { route: r, params };
    }
  }
  return null;
}

async function render() {
  const token = ++generation;
  if (pageController) pageController.abort();
  pageController = new AbortController();
  const { signal } = pageController;
  const { path, query } = parseHash();
  const found = match(path);
  const redirect = guard(found ? found.route : null, path);
  if (redirect && redirect !== path) {
    navigate(redirect, { replace: true });
    return;
  }
  if (cleanup) {
    try { cleanup(); } catch (err) { console.error(err); }
    cleanup = null;
  }
  const target = found || match('/404') || null;
  if (!target) return;
  const ctx = { params: target.params, query, path, signal };
  let result;
  try {
    const page = await target.route.load();
    if (token !== generation) return;
    outlet.replaceChildren();
    result = await page.mount(outlet, ctx);
  } catch (err) {
    if (token !== generation) return;
    console.error(err);
    if (onError) onError(outlet, err);
    return;
  }
  if (token !== generation) {
    if (typeof result === 'function') result();
    return;
  }
  cleanup = typeof result === 'function' ? result : null;
  for (const fn of afterListeners) fn(target.route, ctx);
}

/** Called after each page mounts with (route, ctx). */
export function afterNavigate(fn) {
  afterListeners.add(fn);
}

/** Re-mount the current page (after a language switch or a login). */
export function refresh() {
  return render();
}

/**
 * Start routing into `el`. `guardFn(route, path)` returns a path to redirect
 * to, or null to allow; `errorFn(outlet, error)` renders a page that failed
 * to load or mount.
 */
export function start(el, guardFn, errorFn) {
  outlet = el;
  guard = guardFn || guard;
  onError = errorFn || null;
  window.addEventListener('hashchange', render);
  return render();
}
