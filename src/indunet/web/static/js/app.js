// Console entry point: loads the language, wires the header, starts the router.

import { api, onUnauthorized, session } from './api.js';
import { LANGUAGES, detectLanguage, getLanguage, setLanguage, t, tOr } from './i18n.js';
import { afterNavigate, currentPath, navigate, refresh, route, start } from './router.js';
import { errorText, h, messageBox } from './dom.js';

const RETURN_KEY = 'indunet.returnTo';
const FLASH_KEY = 'indunet.flash';

const header = {
  authOnly: () => document.querySelectorAll('[data-auth-only]'),
  user: document.querySelector('[data-session-user]'),
  tenant: document.querySelector('[data-session-tenant]'),
  lang: document.querySelector('[data-lang-select]'),
  logout: document.querySelector('[data-logout]'),
  main: document.getElementById('main'),
  announcer: document.querySelector('[data-announcer]'),
};

let me = null;

function showSession(visible) {
  for (const el of header.authOnly()) el.hidden = !visible;
}

function renderMe() {
  if (!me) {
    header.user.textContent = '';
    header.tenant.textContent = '';
    return;
  }
  const role = me.user.role ? tOr(`role.${me.user.role}`, me.user.role) : '';
  header.user.textContent = me.user.email;
  header.user.title = role ? `${me.user.email} · ${role}` : me.user.email;
  header.tenant.textContent = me.tenant ? me.tenant.name : '';
  header.tenant.title = t('header.tenant');
  if (role) header.user.append(' ', h('span', { class: 'session-role', text: role }));
}

/** Fetch the signed-in user for the header. Exported for the login page. */
export async function loadMe() {
  me = await api.me();
  renderMe();
  showSession(true);
  return me;
}

function signOut({ expired = false } = {}) {
  const returnTo = currentPath();
  session.clear();
  me = null;
  renderMe();
  showSession(false);
  if (expired) {
    sessionStorage.setItem(FLASH_KEY, 'login.sessionExpired');
    if (!returnTo.startsWith('/login')) sessionStorage.setItem(RETURN_KEY, returnTo);
  } else {
    sessionStorage.removeItem(RETURN_KEY);
  }
  navigate('/login', { replace: expired });
}

/** Where to go after a successful login (the page a 401 interrupted, else the devices). */
export function takeReturnPath() {
  const path = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  return path && path.startsWith('/') && !path.startsWith('/login') ? path : '/devices';
}

/** One-shot message for the login page (e.g. "session expired"), already translated. */
export function takeFlash() {
  const key = sessionStorage.getItem(FLASH_KEY);
  sessionStorage.removeItem(FLASH_KEY);
  return key ? t(key) : null;
}

export function announce(text) {
  header.announcer.textContent = text;
}

function setupHeader() {
  header.lang.replaceChildren(...LANGUAGES.map(({ code, label }) => h('option', { value: code, lang: code }, label)));
  header.lang.value = getLanguage();
  header.lang.addEventListener('change', async () => {
    await setLanguage(header.lang.value);
    renderMe();
    await refresh();
  });
  header.logout.addEventListener('click', () => signOut());
  document.querySelector('[data-skip-link]').addEventListener('click', (event) => {
    event.preventDefault();
    header.main.focus();
  });
}

function highlightNav(path) {
  for (const link of document.querySelectorAll('[data-nav]')) {
    const active = path.startsWith(`/${link.dataset.nav}`);
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function registerRoutes() {
  route('/login', () => import('./pages/login.js'), { public: true });
  route('/devices', () => import('./pages/devices.js'));
  route('/devices/:id', () => import('./pages/device.js'));
  route('/audit', () => import('./pages/audit.js'));
  route('/alarms', () => import('./pages/alarms.js'));
  route('/gateways', () => import('./pages/gateways.js'));
  route('/gateways/:id', () => import('./pages/gateway.js'));
  route('/identifiers', () => import('./pages/identifiers.js'));
  route('/indices', () => import('./pages/indices.js'));
  route('/maintenance', () => import('./pages/maintenance.js'));
  route('/safety', () => import('./pages/safety.js'));
  route('/safety/units/:name', () => import('./pages/safety_unit.js'));
  route('/safety/warnings', () => import('./pages/incidents.js'));
  route('/safety/warnings/:number', () => import('./pages/incident.js'));
  route('/404', () => import('./pages/notfound.js'), { public: true });
}

function guard(matched, path) {
  const authed = session.isAuthenticated;
  if (path === '/' || path === '') return authed ? '/devices' : '/login';
  if (matched && matched.meta.public) {
    return matched.pattern === '/login' && authed ? '/devices' : null;
  }
  if (!authed) {
    if (path !== '/login') sessionStorage.setItem(RETURN_KEY, path);
    return '/login';
  }
  return null;
}

function renderFailure(outlet, error) {
  outlet.replaceChildren(messageBox('error', errorText(error)));
}

async function main() {
  try {
    await setLanguage(detectLanguage(), { persist: false });
  } catch (err) {
    console.error(err);
    // The catalogs themselves failed to load, so this one text cannot come from them.
    header.main.replaceChildren(messageBox('error', 'The console could not load its message catalogs.'));
    return;
  }
  setupHeader();
  registerRoutes();
  onUnauthorized(() => signOut({ expired: true }));
  afterNavigate((matched, ctx) => {
    highlightNav(ctx.path);
    const isLogin = matched.pattern === '/login';
    showSession(!isLogin && session.isAuthenticated && me !== null);
  });
  if (session.isAuthenticated) {
    loadMe().catch((err) => {
      if (err.status !== 401) console.warn('auth/me failed', err);
    });
  }
  await start(header.main, guard, renderFailure);
}

main();
