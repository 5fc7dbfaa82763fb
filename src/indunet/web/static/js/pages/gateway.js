// One gateway: its latest self-report, the field devices behind it (label
// `gateway=<name>`, state from their `gateway_*` client attributes) and charts
// of queue depth and points/s over the last hour. Everything refreshes every 5 s.
//
// Charts: one request for the last hour, then each refresh asks only for what
// came after the newest charted sample (SeriesBuffer skips repeats). Each
// chart's figure carries data-points / data-last-ts for tests.

import { request } from '../api.js';
import { ChartLibraryMissing, LiveChart, SeriesBuffer, loadChartLibrary, showSeries } from '../chart.js';
import { errorText, h, messageBox, pageHeader, poll, refreshTimes, relativeTime, statusBadge } from '../dom.js';
import {
  GATEWAY_TYPE, bytes, deviceStateBadge, devicesCell, duration, latestReport, listAll, mapLimited, num, since,
  uplinkBadge, uplinkState,
} from '../gateway_format.js';
import { formatTime, t } from '../i18n.js';

const REFRESH_MS = 5000;
const WINDOW_MS = 60 * 60 * 1000;
const CHARTED = [['queue_depth', ''], ['points_per_s', '1/s']];
const DEVICE_COLUMNS = [
  ['name', ''], ['driver', ''], ['state', ''], ['since', ''], ['polls', 'num'], ['errors', 'num'],
  ['transport', 'num'], ['reconnects', 'num'], ['latency', 'num'], ['lastError', ''],
];

function backLink() {
  return h('p', { class: 'crumbs' }, h('a', { href: '#/gateways', text: `← ${t('gateway.back')}` }));
}

export async function mount(outlet, ctx) {
  const id = ctx.params.id;
  const stops = [];
  const charts = [];
  const cleanup = () => {
    for (const stop of stops) stop();
    for (const chart of charts) chart.destroy();
  };

  outlet.append(h('p', { class: 'muted', role: 'status', text: t('common.loading') }));
  let gateway;
  try {
    gateway = await request(`/devices/${encodeURIComponent(id)}`, { signal: ctx.signal });
  } catch (err) {
    if (ctx.signal.aborted) return cleanup;
    outlet.replaceChildren(backLink(), pageHeader(t('gateway.title')),
      messageBox('error', err.status === 404 ? t('gateway.notFound') : errorText(err)));
    return cleanup;
  }
  if (ctx.signal.aborted) return cleanup;

  const updated = h('span', { class: 'muted small', 'aria-live': 'off', 'data-testid': 'gateway-updated' });
  const stale = h('div');
  const overview = h('dl', { class: 'facts facts-grid', 'data-testid': 'gateway-overview' });
  const deviceMessage = h('div');
  const deviceBody = h('tbody');
  const chartMessage = h('div');
  const chartGrid = h('div', { class: 'chart-grid' });

  outlet.replaceChildren(...[
    backLink(),
    pageHeader(gateway.name, updated,
      h('a', { href: `#/devices/${encodeURIComponent(gateway.id)}`, text: t('gateway.devicePage') })),
    gateway.type === GATEWAY_TYPE ? null : messageBox('warning', t('gateway.notGateway')),
    stale,
    h('section', { class: 'panel', 'aria-labelledby': 'gw-overview-title' },
      h('h2', { id: 'gw-overview-title', class: 'panel-title', text: t('gateway.overview') }), overview),
    h('section', { 'aria-labelledby': 'gw-devices-title' },
      h('h2', { id: 'gw-devices-title', class: 'section-title', text: t('gateway.devices') }),
      deviceMessage,
      h('div', { class: 'panel table-wrap' }, h('table', { class: 'table', 'data-testid': 'gateway-device-table' },
        h('caption', { class: 'visually-hidden', text: t('gateway.devices') }),
        h('thead', {}, h('tr', {}, DEVICE_COLUMNS.map(([col, cls]) =>
          h('th', { scope: 'col', class: cls || null, text: t(`gateway.col.${col}`) })))),
        deviceBody))),
    h('section', { class: 'charts', 'aria-labelledby': 'gw-charts-title' },
      h('h2', { id: 'gw-charts-title', class: 'section-title', text: t('gateway.charts') }),
      chartMessage, chartGrid),
  ].filter(Boolean));

  function renderOverview(report) {
    const v = report.values;
    const facts = [
      [t('gateway.status'), statusBadge(gateway.status)],
      [t('gateways.col.uplink'), uplinkBadge(uplinkState(gateway, v))],
      [t('gateway.queueDepth'), h('span', { class: 'mono', 'data-testid': 'gw-queue' }, num(v.queue_depth))],
      [t('gateway.queueBytes'), h('span', { class: 'mono' }, bytes(v.queue_bytes))],
      [t('gateways.col.oldest'), h('span', { class: 'mono' }, duration(v.queue_oldest_age))],
      [t('gateway.sent'), h('span', { class: 'mono' }, num(v.samples_sent))],
      [t('gateways.col.dropped'), h('span', { class: 'mono' }, num(v.samples_dropped))],
      [t('gateways.col.rejected'), h('span', { class: 'mono' }, num(v.samples_rejected))],
      [t('gateways.col.devices'), h('span', { class: 'mono' }, devicesCell(v))],
      [t('gateway.deviceErrors'), h('span', { class: 'mono' }, num(v.device_errors))],
      [t('gateways.col.rate'), h('span', { class: 'mono' }, num(v.points_per_s, 1))],
      [t('gateways.col.cpu'), h('span', { class: 'mono' }, num(v.cpu_percent, 1, ' %'))],
      [t('gateways.col.memory'), h('span', { class: 'mono' }, num(v.rss_mb, 1, ' MB'))],
      [t('gateways.col.report'), relativeTime(report.ts)],
    ];
    overview.replaceChildren(...facts.map(([k, val]) => h('div', {}, h('dt', { text: k }), h('dd', {}, val))));
    stale.replaceChildren(...(gateway.status === 'online' ? [] : [messageBox('warning', t('gateway.stale'))]));
  }

  function deviceRow(device, client) {
    const a = client || {};
    const errors = Number(a.gateway_errors) || 0;
    const transport = Number(a.gateway_transport_errors) || 0;
    const latency = typeof a.gateway_latency_ms === 'number'
      ? `${num(a.gateway_latency_ms, 1)} / ${typeof a.gateway_latency_p99_ms === 'number' ? num(a.gateway_latency_p99_ms, 1) : t('common.none')}`
      : h('span', { class: 'muted', text: t('common.none') });
    const lastError = a.gateway_last_error ? String(a.gateway_last_error) : '';
    return h('tr', { 'data-testid': 'gateway-device-row', dataset: { deviceId: device.id, name: device.name, state: a.gateway_state || 'unknown' } },
      h('td', {}, h('a', { href: `#/devices/${encodeURIComponent(device.id)}`, class: 'strong', text: device.name })),
      h('td', { class: 'mono', text: a.gateway_driver ? String(a.gateway_driver) : t('common.none') }),
      h('td', {}, deviceStateBadge(a.gateway_state)),
      h('td', { class: 'nowrap' }, since(a.gateway_state_since)),
      h('td', { class: 'num mono', 'data-testid': 'dev-polls' }, num(a.gateway_polls)),
      h('td', { class: `num mono${errors > 0 ? ' text-danger' : ''}`, 'data-testid': 'dev-errors' }, num(a.gateway_errors)),
      h('td', { class: `num mono${transport > 0 ? ' text-danger' : ''}`, 'data-testid': 'dev-transport' }, num(a.gateway_transport_errors)),
      h('td', { class: 'num mono', 'data-testid': 'dev-reconnects' }, num(a.gateway_reconnects)),
      h('td', { class: 'num mono nowrap', 'data-testid': 'dev-latency' }, latency),
      h('td', { class: 'cell-error', title: lastError || null, 'data-testid': 'dev-last-error' },
        lastError || h('span', { class: 'muted', text: t('common.none') })));
  }

  async function loadDevices(signal) {
    const children = await listAll({ label: `gateway=${gateway.name}` }, signal);
    const attrs = await mapLimited(children,
      (d) => request(`/devices/${encodeURIComponent(d.id)}/attributes`, { signal }), null);
    deviceMessage.replaceChildren();
    deviceBody.replaceChildren(...(children.length
      ? children.map((d, i) => deviceRow(d, attrs[i] && attrs[i].client))
      : [h('tr', {}, h('td', {
        colspan: DEVICE_COLUMNS.length, class: 'empty', text: t('gateway.noDevices', { label: `gateway=${gateway.name}` }),
      }))]));
  }

  deviceBody.replaceChildren(h('tr', {}, h('td', { colspan: DEVICE_COLUMNS.length, class: 'empty', text: t('common.loading') })));
  stops.push(poll(async (signal) => {
    const [g, report] = await Promise.all([
      request(`/devices/${encodeURIComponent(id)}`, { signal }),
      latestReport(id, signal),
    ]);
    gateway = g;
    renderOverview(report);
    await loadDevices(signal);
    updated.textContent = t('common.updatedAt', { time: formatTime(new Date().toISOString()) });
  }, REFRESH_MS, (err) => {
    if (err.status !== 401) deviceMessage.replaceChildren(messageBox('error', errorText(err)));
  }));

  await startCharts();
  return cleanup;

  async function startCharts() {
    let uPlot;
    try {
      uPlot = await loadChartLibrary();
    } catch (err) {
      if (!(err instanceof ChartLibraryMissing)) throw err;
      chartMessage.replaceChildren(messageBox('warning', t('device.chartLibMissing')));
      return;
    }
    if (ctx.signal.aborted) return;
    const views = CHARTED.map(([name, unit], index) => {
      const plotEl = h('div', { class: 'chart-plot' });
      const latest = h('span', { class: 'chart-latest mono' });
      const empty = h('p', { class: 'chart-empty muted small', text: t('gateway.noChartData') });
      const figure = h('figure', {
        class: 'chart panel', 'data-testid': `chart-${name}`, 'data-point': name, 'data-points': '0', 'data-last-ts': '',
      },
      h('figcaption', { class: 'chart-caption' }, h('span', { class: 'strong', text: t(`gateway.chart.${name}`) }), latest),
      plotEl, empty);
      chartGrid.append(figure);
      const chart = new LiveChart(uPlot, plotEl, { label: t(`gateway.chart.${name}`), unit, index, timeLabel: t('chart.time') });
      charts.push(chart);
      return { name, unit, figure, chart, latest, empty, buffer: new SeriesBuffer() };
    });

    function nextStart() {
      const floor = Date.now() - WINDOW_MS;
      let oldest = null;
      for (const v of views) {
        if (v.buffer.length && (oldest === null || v.buffer.lastMs < oldest.lastMs)) oldest = v.buffer;
      }
      return oldest === null || oldest.lastMs < floor ? new Date(floor).toISOString() : oldest.lastRaw;
    }

    stops.push(poll(async (signal) => {
      const res = await request(`/telemetry/${encodeURIComponent(id)}`, {
        signal, params: { point: CHARTED.map(([n]) => n), start: nextStart(), limit: 10000 },
      });
      const series = (res && res.series) || {};
      showSeries(views, series, WINDOW_MS);
      chartMessage.replaceChildren();
      refreshTimes(outlet);
    }, REFRESH_MS, (err) => {
      if (err.status !== 401) chartMessage.replaceChildren(messageBox('error', errorText(err)));
    }));
  }
}
