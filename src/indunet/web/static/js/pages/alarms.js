// Alarms: newest first, filter by status and severity, acknowledge and clear
// (engineers and administrators), refreshed every 5 s.

import { request } from '../api.js';
import { errorText, h, messageBox, pageHeader, pager, poll, relativeTime } from '../dom.js';
import { formatDateTime, formatTime, t } from '../i18n.js';
import { replaceQuery } from '../router.js';

const LIMIT = 50;
const REFRESH_MS = 5000;
const STATUSES = ['open', 'active', 'acknowledged', 'cleared_unacknowledged', 'cleared'];
const SEVERITIES = ['critical', 'major', 'minor', 'warning', 'indeterminate'];
// Badge colours of the console's palette: warm for what needs attention, grey once it is over.
const SEVERITY_BADGE = { critical: 'unknown', major: 'unknown', minor: 'unknown', warning: 'unknown', indeterminate: 'offline' };
const STATUS_BADGE = { active: 'unknown', acknowledged: 'online', cleared_unacknowledged: 'offline', cleared: 'offline' };

function badge(kind, value, testid) {
  return h('span', { class: `badge badge-${kind}`, 'data-testid': testid, dataset: { value } },
    h('span', { class: 'badge-dot', 'aria-hidden': 'true' }), t(`alarms.${testid}.${value}`));
}

function select(id, values, current, prefix) {
  return h('select', { id, 'data-testid': id },
    h('option', { value: '', text: t(`${prefix}.all`) }),
    values.map((v) => h('option', { value: v, selected: v === current, text: t(`${prefix}.${v}`) })));
}

export async function mount(outlet, { query, signal }) {
  const state = {
    status: STATUSES.includes(query.status) ? query.status : 'open',
    severity: SEVERITIES.includes(query.severity) ? query.severity : '',
    offset: Math.max(0, Number(query.offset) || 0),
  };
  const me = await request('/auth/me', { signal });
  const canAct = me.user && (me.user.role === 'admin' || me.user.role === 'engineer');

  const statusSelect = select('alarm-status', STATUSES, state.status, 'alarms.status');
  const severitySelect = select('alarm-severity', SEVERITIES, state.severity, 'alarms.severity');
  const updated = h('span', { class: 'muted small', 'aria-live': 'off', 'data-testid': 'alarms-updated' });
  const message = h('div');
  const body = h('tbody');
  const footer = h('div', { class: 'table-footer' });
  const table = h('table', { class: 'table', 'data-testid': 'alarm-table' },
    h('caption', { class: 'visually-hidden', text: t('alarms.title') }),
    h('thead', {}, h('tr', {},
      ['severity', 'status', 'name', 'device', 'message', 'count', 'start', 'actions'].map(
        (col) => h('th', { scope: 'col', text: t(`alarms.col.${col}`) })))),
    body);

  outlet.append(
    pageHeader(t('alarms.title'), updated),
    h('div', { class: 'toolbar' },
      h('label', { for: 'alarm-status' }, t('alarms.filterStatus'), ' ', statusSelect),
      h('label', { for: 'alarm-severity' }, t('alarms.filterSeverity'), ' ', severitySelect),
      h('span', { class: 'muted small', text: t('devices.autoRefresh') })),
    message,
    h('div', { class: 'panel table-wrap' }, table),
    footer);

  async function act(alarm, action) {
    try {
      await request(`/alarms/${encodeURIComponent(alarm.id)}/${action}`, { method: 'POST' });
      reload();
    } catch (err) {
      if (err.status !== 401) message.replaceChildren(messageBox('error', errorText(err)));
    }
  }

  function actions(alarm) {
    if (!canAct) return null;
    const buttons = [];
    if (alarm.status === 'active' || alarm.status === 'cleared_unacknowledged') {
      const ack = h('button', { type: 'button', class: 'btn', 'data-testid': 'alarm-ack', text: t('alarms.ack') });
      ack.addEventListener('click', () => act(alarm, 'ack'));
      buttons.push(ack);
    }
    if (alarm.status === 'active' || alarm.status === 'acknowledged') {
      const clear = h('button', { type: 'button', class: 'btn', 'data-testid': 'alarm-clear', text: t('alarms.clear') });
      clear.addEventListener('click', () => act(alarm, 'clear'));
      buttons.push(clear);
    }
    return buttons;
  }

  function row(alarm) {
    return h('tr', { 'data-testid': 'alarm-row', dataset: { alarmId: alarm.id, status: alarm.status, severity: alarm.severity } },
      h('td', {}, badge(SEVERITY_BADGE[alarm.severity] || 'offline', alarm.severity, 'severity')),
      h('td', {}, badge(STATUS_BADGE[alarm.status] || 'offline', alarm.status, 'status')),
      h('td', { class: 'strong', text: alarm.name }),
      h('td', {}, h('a', { href: `#/devices/${encodeURIComponent(alarm.device_id)}`, text: alarm.device_name || alarm.device_id })),
      h('td', { text: alarm.message }),
      h('td', { class: 'mono', text: String(alarm.count) }),
      h('td', { class: 'nowrap', title: formatDateTime(alarm.start_ts) }, relativeTime(alarm.start_ts)),
      h('td', { class: 'nowrap' }, actions(alarm)));
  }

  async function load(signal2) {
    const page = await request('/alarms', {
      signal: signal2,
      params: { limit: LIMIT, offset: state.offset, status: state.status, severity: state.severity },
    });
    message.replaceChildren();
    body.replaceChildren(...(page.items.length
      ? page.items.map(row)
      : [h('tr', {}, h('td', { colspan: 8, class: 'empty', text: t('alarms.empty') }))]));
    footer.replaceChildren(pager(page, (offset) => {
      state.offset = offset;
      reload();
    }));
    updated.textContent = t('common.updatedAt', { time: formatTime(new Date().toISOString()) });
  }

  let stop = () => {};
  function reload() {
    stop();
    replaceQuery({ status: state.status, severity: state.severity, offset: state.offset });
    stop = poll(load, REFRESH_MS, (err) => {
      if (err.status !== 401) message.replaceChildren(messageBox('error', errorText(err)));
    });
  }
  for (const [el, key] of [[statusSelect, 'status'], [severitySelect, 'severity']]) {
    el.addEventListener('change', () => {
      state[key] = el.value;
      state.offset = 0;
      reload();
    });
  }
  body.replaceChildren(h('tr', {}, h('td', { colspan: 8, class: 'empty', text: t('common.loading') })));
  reload();
  return () => stop();
}
