// Device list: search, pagination, auto-refresh every 5 s.

import { api } from '../api.js';
import { debounce, errorText, h, labelChips, messageBox, pageHeader, pager, poll, relativeTime, statusBadge } from '../dom.js';
import { formatTime, t } from '../i18n.js';
import { replaceQuery } from '../router.js';

const LIMIT = 50;
const REFRESH_MS = 5000;

export function mount(outlet, { query }) {
  const state = { q: query.q || '', offset: Math.max(0, Number(query.offset) || 0) };

  const search = h('input', {
    id: 'device-search', type: 'search', value: state.q, placeholder: t('devices.searchPlaceholder'),
    autocomplete: 'off', 'data-testid': 'device-search',
  });
  const updated = h('span', { class: 'muted small', 'aria-live': 'off', 'data-testid': 'devices-updated' });
  const message = h('div');
  const body = h('tbody');
  const footer = h('div', { class: 'table-footer' });

  const table = h('table', { class: 'table', 'data-testid': 'device-table' },
    h('caption', { class: 'visually-hidden', text: t('devices.title') }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: t('devices.col.name') }),
      h('th', { scope: 'col', text: t('devices.col.type') }),
      h('th', { scope: 'col', text: t('devices.col.status') }),
      h('th', { scope: 'col', text: t('devices.col.lastSeen') }),
      h('th', { scope: 'col', text: t('devices.col.labels') }))),
    body);

  outlet.append(
    pageHeader(t('devices.title'), updated),
    h('div', { class: 'toolbar' },
      h('label', { class: 'toolbar-search', for: 'device-search' },
        h('span', { class: 'visually-hidden', text: t('devices.search') }), search),
      h('span', { class: 'muted small', text: t('devices.autoRefresh') })),
    message,
    h('div', { class: 'panel table-wrap' }, table),
    footer);

  function row(device) {
    return h('tr', { 'data-testid': 'device-row', dataset: { deviceId: device.id, status: device.status } },
      h('td', {}, h('a', { href: `#/devices/${encodeURIComponent(device.id)}`, class: 'strong', text: device.name || device.id })),
      h('td', { class: 'mono', text: device.type }),
      h('td', {}, statusBadge(device.status)),
      h('td', {}, relativeTime(device.last_seen)),
      h('td', {}, labelChips(device.labels)));
  }

  function render(page) {
    // Keep keyboard focus on the same device link across auto-refreshes.
    const focused = body.contains(document.activeElement) ? document.activeElement.getAttribute('href') : null;
    if (!page.items.length) {
      body.replaceChildren(h('tr', {}, h('td', { colspan: 5, class: 'empty', text: t('devices.empty') })));
    } else {
      body.replaceChildren(...page.items.map(row));
    }
    if (focused) {
      const again = [...body.querySelectorAll('a[href]')].find((a) => a.getAttribute('href') === focused);
      if (again) again.focus();
    }
    footer.replaceChildren(pager(page, (offset) => {
      state.offset = offset;
      reload();
    }));
    updated.textContent = t('common.updatedAt', { time: formatTime(new Date().toISOString()) });
  }

  async function load(signal) {
    const page = await api.devices({ limit: LIMIT, offset: state.offset, q: state.q }, { signal });
    // Past the end (devices deleted or a new search): go back to the last page.
    if (!page.items.length && page.total > 0 && state.offset >= page.total) {
      state.offset = Math.max(0, Math.floor((page.total - 1) / LIMIT) * LIMIT);
      return load(signal);
    }
    message.replaceChildren();
    table.setAttribute('aria-busy', 'false');
    render(page);
  }

  function onError(err) {
    if (err.status === 401) return;
    message.replaceChildren(messageBox('error', errorText(err)));
  }

  let stop = () => {};
  function reload() {
    stop();
    replaceQuery({ q: state.q, offset: state.offset });
    table.setAttribute('aria-busy', 'true');
    stop = poll(load, REFRESH_MS, onError);
  }

  const onSearch = debounce(() => {
    const q = search.value.trim();
    if (q === state.q) return;
    state.q = q;
    state.offset = 0;
    reload();
  }, 300);
  search.addEventListener('input', onSearch);

  body.replaceChildren(h('tr', {}, h('td', { colspan: 5, class: 'empty', text: t('common.loading') })));
  reload();

  return () => {
    onSearch.cancel();
    stop();
  };
}
