// Login page: OAuth2 password grant against POST /api/auth/token.

import { api } from '../api.js';
import { loadMe, takeFlash, takeReturnPath } from '../app.js';
import { errorText, h, messageBox } from '../dom.js';
import { t } from '../i18n.js';
import { navigate } from '../router.js';

export function mount(outlet) {
  document.title = `${t('login.title')} · indunet`;
  const flash = takeFlash();
  const status = h('div', { class: 'login-status', 'data-testid': 'login-message' },
    flash ? messageBox('info', flash) : null);

  const email = h('input', {
    id: 'login-email', name: 'username', type: 'email', autocomplete: 'username', required: true,
    spellcheck: 'false', 'data-testid': 'login-email',
  });
  const password = h('input', {
    id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true,
    'data-testid': 'login-password',
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', 'data-testid': 'login-submit' },
    t('login.submit'));

  const form = h('form', { class: 'login-form', novalidate: false },
    h('div', { class: 'field' }, h('label', { for: 'login-email', text: t('login.email') }), email),
    h('div', { class: 'field' }, h('label', { for: 'login-password', text: t('login.password') }), password),
    status,
    submit);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    submit.textContent = t('login.submitting');
    status.replaceChildren();
    try {
      await api.login(email.value.trim(), password.value);
      await loadMe();
      navigate(takeReturnPath());
    } catch (err) {
      status.replaceChildren(messageBox('error', err.status === 401 && !err.detail ? t('login.failed') : errorText(err)));
      submit.disabled = false;
      submit.textContent = t('login.submit');
      password.select();
    }
  });

  outlet.append(h('section', { class: 'login', 'aria-labelledby': 'login-title' },
    h('div', { class: 'login-card' },
      h('h1', { id: 'login-title', text: t('login.title') }),
      h('p', { class: 'muted', text: t('login.subtitle') }),
      form)));
  email.focus();
}
