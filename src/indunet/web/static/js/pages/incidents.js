// Safety warnings (incidents): the not-closed ones first, the most severe first (the API's order),
// filtered by status, enterprise and unit; each row links to the warning's page (incident.js), where
// it is disposed of. Refreshed every 5 s; the filters are kept in the address (`?status=&enterprise=&unit=`).

import { request } from '../api.js';
import { emptyRow, errorText, h, messageBox, pageHeader, pager, poll, refreshTimes, relativeTime } from '../dom.js';
import { formatTime, t } from '../i18n.js';
import { replaceQuery } from '../router.js';
import { REFRESH_MS, STATUSES, levelBadge, loadLibrary, none, reasonText, seg, statusBadge, subnav } from './safety_common.js';

const LIMIT = 50;
const COLUMNS = ['number', 'level', 'conditions', 'status', 'unit', 'enterprise', 'reason', 'assignee', 'opened'];

function select(id, label, options, current) {
  return h('select', { id, 'data-testid': id, 'aria-label': label },
    options.map(([value, text]) => h('option', { value, selected: value === current, text })));
}

export async function mount(outlet, { query, signal }) {
  const state = {
    status: STATUSES.includes(query.status) ? query.status : (query.status === 'all' ? '' : 'open'),
    enterprise: query.enterprise || '',
    unit: query.unit || '',
    offset: Math.max(0, Number(query.offset) || 0),
  };
  const [library, enterprises, units] = await Promise.all([
    loadLibrary(signal),
    request('/safety/enterprises', { signal }).then((r) => r.items),
    request('/safety/units', { signal }).then((r) => r.items),
  ]);
  const titleOf = new Map(enterprises.map((e) => [e.name, e.title]));

  const statusSelect = select('warning-status-filter', t('safety.warnings.filterStatus'), [
    ['open', t('safety.status.notClosed')], ...STATUSES.filter((s) => s !== 'open').map((s) => [s, t(`safety.status.${s}`)]),
    ['', t('safety.status.all')],
  ], state.status);
  const enterpriseSelect = select('warning-enterprise-filter', t('safety.warnings.filterEnterprise'), [
    ['', t('safety.warnings.allEnterprises')], ...enterprises.map((e) => [e.name, e.title])], state.enterprise);
  const unitSelect = select('warning-unit-filter', t('safety.warnings.filterUnit'), [
    ['', t('safety.warnings.allUnits')], ...units.map((u) => [u.name, `${u.title} (${u.name})`])], state.unit);
  const updated = h('span', { class: 'muted small', 'aria-live': 'off', 'data-testid': 'warnings-updated' });
  const message = h('div');
  const body = h('tbody', {}, emptyRow(COLUMNS.length, t('common.loading')));
  const footer = h('div', { class: 'table-footer' });

  function row(w) {
    return h('tr', { 'data-testid': 'warning-row', dataset: { number: w.number, level: w.level, status: w.status, unit: w.unit } },
      h('td', { class: 'nowrap' }, h('a', { href: `#/safety/warnings/${w.number}`, class: 'mono strong', 'data-testid': 'warning-link', text: w.label })),
      h('td', { class: 'nowrap' }, levelBadge(w.level)),
      h('td', { class: 'nowrap' }, w.status === 'closed'
        ? none()
        : (w.condition_level === null ? h('span', { class: 'muted small', text: t('safety.incident.conditionsCleared') }) : levelBadge(w.condition_level, 'warning-condition'))),
      h('td', { class: 'nowrap' }, statusBadge(w.status)),
      h('td', {}, h('a', { href: `#/safety/units/${seg(w.unit)}`, text: w.unit_title || w.unit })),
      h('td', { text: titleOf.get(w.enterprise) || w.enterprise }),
      h('td', { class: 'small' }, w.reasons && w.reasons.length
        ? [reasonText(w.reasons[0], library), w.reasons.length > 1 ? h('span', { class: 'muted', text: ` ${t('safety.warnings.more', { n: w.reasons.length - 1 })}` }) : null]
        : none()),
      h('td', { 'data-testid': 'warning-assignee' }, w.assignee || none()),
      h('td', { class: 'nowrap' }, relativeTime(w.opened_at)));
  }

  async function load(s) {
    const page = await request('/safety/warnings', {
      signal: s, params: { limit: LIMIT, offset: state.offset, status: state.status, enterprise: state.enterprise, unit: state.unit },
    });
    message.replaceChildren();
    body.replaceChildren(...(page.items.length ? page.items.map(row) : [emptyRow(COLUMNS.length, t('safety.warnings.empty'))]));
    footer.replaceChildren(page.total > LIMIT || state.offset ? pager(page, (offset) => {
      state.offset = offset;
      reload();
    }) : '');
    refreshTimes(body);
    updated.textContent = t('common.updatedAt', { time: formatTime(new Date().toISOString()) });
  }

  outlet.append(
    subnav('warnings'),
    pageHeader(t('safety.warnings.title'), updated),
    h('div', { class: 'toolbar safety-filters' },
      h('label', { for: 'warning-status-filter' }, t('safety.warnings.filterStatus'), ' ', statusSelect),
      h('label', { for: 'warning-enterprise-filter' }, t('safety.warnings.filterEnterprise'), ' ', enterpriseSelect),
      h('label', { for: 'warning-unit-filter' }, t('safety.warnings.filterUnit'), ' ', unitSelect),
      h('span', { class: 'muted small', text: t('devices.autoRefresh') })),
    message,
    h('div', { class: 'panel table-wrap' }, h('table', { class: 'table', 'data-testid': 'warning-table' },
      h('caption', { class: 'visually-hidden', text: t('safety.warnings.title') }),
      h('thead', {}, h('tr', {}, COLUMNS.map((c) => h('th', { scope: 'col', text: t(`safety.warnings.col.${c}`) })))),
      body)),
    footer);

  let stop = () => {};
  function reload() {
    stop();
    replaceQuery({ status: state.status === '' ? 'all' : state.status, enterprise: state.enterprise, unit: state.unit, offset: state.offset });
    stop = poll(load, REFRESH_MS, (err) => {
      if (err.status !== 401) message.replaceChildren(messageBox('error', errorText(err)));
    });
  }
  for (const [el, field] of [[statusSelect, 'status'], [enterpriseSelect, 'enterprise'], [unitSelect, 'unit']]) {
    el.addEventListener('change', () => {
      state[field] = el.value;
      state.offset = 0;
      reload();
    });
  }
  reload();
  return () => stop();
}
