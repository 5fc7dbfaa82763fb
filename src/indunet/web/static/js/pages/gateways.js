// Gateway list: every edge gateway with its uplink, queue and field-device
// counts from its latest self-report, refreshed every 5 s.

import { errorText, h, messageBox, pageHeader, poll, relativeTime, statusBadge } from '../dom.js';
import {
  GATEWAY_TYPE, bytes, devicesCell, duration, latestReport, listAll, mapLimited, num, uplinkBadge, uplinkState,
} from '../gateway_format.js';
import { formatTime, t } from '../i18n.js';

const REFRESH_MS = 5000;
const COLUMNS = [
  ['name', ''], ['status', ''], ['uplink', ''], ['queue', 'num'], ['oldest', 'num'], ['dropped', 'num'],
  ['rejected', 'num'], ['devices', 'num'], ['rate', 'num'], ['cpu', 'num'], ['memory', 'num'], ['report', ''],
];

export function mount(outlet) {
  const updated = h('span', { class: 'muted small', 'aria-live': 'off', 'data-testid': 'gateways-updated' });
  const message = h('div');
  const body = h('tbody');
  const table = h('table', { class: 'table', 'data-testid': 'gateway-table' },
    h('caption', { class: 'visually-hidden', text: t('gateways.title') }),
    h('thead', {}, h('tr', {}, COLUMNS.map(([col, cls]) =>
      h('th', { scope: 'col', class: cls || null, text: t(`gateways.col.${col}`) })))),
    body);

  outlet.append(
    pageHeader(t('gateways.title'), updated),
    h('div', { class: 'toolbar' }, h('span', { class: 'muted small', text: t('devices.autoRefresh') })),
    message,
    h('div', { class: 'panel table-wrap' }, table));

  function row({ gateway, report }) {
    const v = report.values;
    const state = uplinkState(gateway, v);
    const href = `#/gateways/${encodeURIComponent(gateway.id)}`;
    return h('tr', { 'data-testid': 'gateway-row', dataset: { gatewayId: gateway.id, name: gateway.name, uplink: state } },
      h('td', {}, h('a', { href, class: 'strong', text: gateway.name })),
      h('td', {}, statusBadge(gateway.status)),
      h('td', {}, uplinkBadge(state)),
      h('td', { class: 'num mono', 'data-testid': 'gw-queue', title: bytes(v.queue_bytes) }, num(v.queue_depth)),
      h('td', { class: 'num mono', 'data-testid': 'gw-oldest' }, duration(v.queue_oldest_age)),
      h('td', { class: `num mono${v.samples_dropped > 0 ? ' text-danger' : ''}`, 'data-testid': 'gw-dropped' }, num(v.samples_dropped)),
      h('td', { class: `num mono${v.samples_rejected > 0 ? ' text-warn' : ''}`, 'data-testid': 'gw-rejected' }, num(v.samples_rejected)),
      h('td', { class: 'num mono', 'data-testid': 'gw-devices' }, devicesCell(v)),
      h('td', { class: 'num mono', 'data-testid': 'gw-rate' }, num(v.points_per_s, 1)),
      h('td', { class: 'num mono', 'data-testid': 'gw-cpu' }, num(v.cpu_percent, 1, ' %')),
      h('td', { class: 'num mono', 'data-testid': 'gw-memory' }, num(v.rss_mb, 1, ' MB')),
      h('td', { class: 'nowrap' }, relativeTime(report.ts)));
  }

  async function load(signal) {
    const gateways = await listAll({ type: GATEWAY_TYPE }, signal);
    const reports = await mapLimited(gateways, (g) => latestReport(g.id, signal), { values: {}, ts: null });
    message.replaceChildren();
    table.setAttribute('aria-busy', 'false');
    body.replaceChildren(...(gateways.length
      ? gateways.map((gateway, i) => row({ gateway, report: reports[i] }))
      : [h('tr', {}, h('td', { colspan: COLUMNS.length, class: 'empty', text: t('gateways.empty') }))]));
    updated.textContent = t('common.updatedAt', { time: formatTime(new Date().toISOString()) });
  }

  body.replaceChildren(h('tr', {}, h('td', { colspan: COLUMNS.length, class: 'empty', text: t('common.loading') })));
  table.setAttribute('aria-busy', 'true');
  return poll(load, REFRESH_MS, (err) => {
    if (err.status !== 401) message.replaceChildren(messageBox('error', errorText(err)));
  });
}
