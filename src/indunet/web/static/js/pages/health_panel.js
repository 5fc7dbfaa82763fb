// Device page → Health: what predictive maintenance says about the machine, above its live charts.
//
// - Remaining useful life over the last 30 days: the `rul` line inside its prediction interval
//   (`rul_lower`..`rul_upper`, a uPlot band), with the latest value, interval and `health` as text.
// - The anomaly score (`phm_anomaly`) over the last 24 hours, with its threshold (1) dashed.
// - The device's unclosed work order, if any, linking to the maintenance page.
//
// Each chart first fetches the newest samples of its window (newest first, so a dense series still
// shows its end), then every 10 s what came since. Charts carry data-points (and the RUL chart
// data-band-points) so tests can see data arrive.

import { request } from '../api.js';
import { SeriesBuffer } from '../chart.js';
import { errorText, h, messageBox, poll, refreshTimes, relativeTime } from '../dom.js';
import { formatDateTime, formatNumber, t } from '../i18n.js';

const REFRESH_MS = 10000;
const RUL_WINDOW_MS = 30 * 86_400_000;
const ANOMALY_WINDOW_MS = 86_400_000;
const LIMIT = 5000;
const RUL_POINTS = ['rul', 'rul_lower', 'rul_upper', 'health'];
const ANOMALY = 'phm_anomaly';
const THRESHOLD = 1;
const AXIS = { stroke: '#6b7280', grid: { stroke: '#eef0f3', width: 1 }, ticks: { stroke: '#e5e7eb', width: 1 }, font: '11px system-ui, sans-serif' };
const pad = (n) => String(n).padStart(2, '0');

/** Points the health panel charts instead of the generic live charts (they are the RUL band). */
export const BAND_POINTS = ['rul_lower', 'rul_upper'];

/** Whether a device type (its points by name) has anything for the health panel. */
export function hasHealth(pointByName) {
  return pointByName.has('rul') || pointByName.has(ANOMALY);
}

function dayTick(seconds) {
  const d = new Date(seconds * 1000);
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}\n${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function figure(testid, title, unit) {
  const plot = h('div', { class: 'chart-plot' });
  const latest = h('span', { class: 'chart-latest mono', 'data-testid': `${testid}-latest` });
  const empty = h('p', { class: 'chart-empty muted small', text: t('health.noData') });
  const el = h('figure', { class: 'chart panel', 'data-testid': testid, 'data-points': '0', 'data-last-ts': '' },
    h('figcaption', { class: 'chart-caption' },
      h('span', {}, h('span', { class: 'strong', text: title }), unit ? h('span', { class: 'muted', text: ` (${unit})` }) : null),
      latest),
    plot, empty);
  return { el, plot, latest, empty };
}

/** Samples of `names` on one time axis: [[x s], [y per name]...] (a point without a sample there is null). */
function aligned(buffers, names) {
  const at = new Map();
  names.forEach((name, i) => {
    const b = buffers[name];
    b.ms.forEach((ms, j) => {
      if (!at.has(ms)) at.set(ms, names.map(() => null));
      at.get(ms)[i] = b.values[j];
    });
  });
  const xs = [...at.keys()].sort((a, b) => a - b);
  return [xs.map((ms) => ms / 1000), ...names.map((_, i) => xs.map((ms) => at.get(ms)[i]))];
}

function plotOptions(el, series, extra = {}) {
  return {
    width: Math.max(240, el.clientWidth || 480),
    height: 190,
    legend: { show: true, live: true },
    cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    scales: { x: { time: true } },
    axes: [
      { ...AXIS, space: 70, size: 44, values: (u, splits) => splits.map(dayTick) },
      { ...AXIS, size: 56, values: (u, splits) => splits.map((v) => formatNumber(v, 2)) },
    ],
    series: [{ label: t('chart.time'), value: (u, v) => (v == null ? '—' : formatDateTime(v * 1000)) }, ...series],
    ...extra,
  };
}

function resizing(plot, el) {
  const observer = new ResizeObserver(() => {
    const width = Math.floor(el.clientWidth);
    if (width > 0 && width !== plot.width) plot.setSize({ width, height: plot.height });
  });
  observer.observe(el);
  return () => { observer.disconnect(); plot.destroy(); };
}

/**
 * The panel of device `deviceId` whose type has the points in `pointByName`. Returns `{element,
 * start(uPlot)}`: `start` (uPlot may be null when the chart library is missing: the texts and the
 * work order still show) begins the 10 s refresh and returns the function that stops it.
 */
export function healthPanel(deviceId, pointByName) {
  const unitOf = (name) => (pointByName.get(name) && pointByName.get(name).unit) || '';
  const hasRul = pointByName.has('rul');
  const hasAnomaly = pointByName.has(ANOMALY);
  const rulNames = RUL_POINTS.filter((n) => pointByName.has(n));
  const message = h('div');
  const order = h('div', { class: 'muted', 'data-testid': 'health-work-order' }, t('common.loading'));
  const health = h('strong', { 'data-testid': 'health-value', text: t('common.none') });
  const rulText = h('strong', { 'data-testid': 'health-rul', class: 'mono', text: t('common.none') });
  const facts = h('p', { class: 'toolbar', 'data-testid': 'health-facts' },
    pointByName.has('health') ? h('span', {}, `${t('health.health')}: `, health) : null,
    hasRul ? h('span', {}, `${t('health.rulLatest')}: `, rulText) : null);
  const rulFig = hasRul ? figure('health-rul-chart', t('health.rulChart'), unitOf('rul')) : null;
  const anomalyFig = hasAnomaly ? figure('health-anomaly-chart', t('health.anomalyChart'), '') : null;
  const element = h('section', { class: 'charts', 'aria-labelledby': 'health-title', 'data-testid': 'health-panel' },
    h('h2', { id: 'health-title', class: 'section-title', text: t('health.title') }),
    message, hasRul ? facts : null, order,
    h('div', { class: 'chart-grid' }, rulFig && rulFig.el, anomalyFig && anomalyFig.el));

  const rulBuffers = Object.fromEntries(rulNames.map((n) => [n, new SeriesBuffer()]));
  const anomalyBuffer = new SeriesBuffer();

  function renderFacts() {
    const b = rulBuffers;
    if (b.health && b.health.length && b.health.lastValue !== null) {
      health.textContent = `${formatNumber(b.health.lastValue * 100, 0)} %`;
      health.title = formatDateTime(b.health.lastMs);
    }
    if (b.rul && b.rul.length && b.rul.lastValue !== null) {
      const unit = unitOf('rul') ? ` ${unitOf('rul')}` : '';
      const lo = b.rul_lower && b.rul_lower.lastValue;
      const hi = b.rul_upper && b.rul_upper.lastValue;
      rulText.textContent = lo != null && hi != null
        ? t('health.rulWithInterval', { rul: formatNumber(b.rul.lastValue, 0), lower: formatNumber(lo, 0), upper: formatNumber(hi, 0), unit })
        : `${formatNumber(b.rul.lastValue, 0)}${unit}`;
      rulText.title = formatDateTime(b.rul.lastMs);
    }
  }

  function renderOrder(items) {
    if (!items.length) {
      order.dataset.number = '';
      delete order.dataset.status;
      order.className = 'muted small';
      order.replaceChildren(h('span', { class: 'muted', text: t('health.noWorkOrder') }), ' ',
        h('a', { href: '#/maintenance', text: t('health.toMaintenance') }));
      return;
    }
    const wo = items[0];
    order.dataset.number = String(wo.number);
    order.dataset.status = wo.status;
    order.className = `message ${wo.priority === 'urgent' || wo.priority === 'high' ? 'message-warning' : 'message-info'}`;
    const reason = wo.reason || {};
    order.replaceChildren(
      h('span', { class: 'muted', text: `${t('health.workOrder')}: ` }),
      h('a', { href: `#/maintenance?order=${wo.number}`, class: 'mono strong', 'data-testid': 'health-work-order-link', text: wo.reference }),
      ' ', h('span', { text: wo.title }), ' · ',
      h('span', { class: 'tag', text: t(`maintenance.status.${wo.status}`) }), ' ',
      h('span', { class: 'tag', text: t(`maintenance.priority.${wo.priority}`) }),
      wo.due ? h('span', {}, ` · ${t('maintenance.col.due')} `, relativeTime(wo.due)) : null,
      reason.rul != null
        ? h('span', { class: 'muted small', text: ` · ${t('maintenance.reason.rul')} ${formatNumber(reason.rul, 1)} ${t('maintenance.hours')}` })
        : null);
  }

  function nextStart(buffers, windowMs) {
    // From the oldest "last sample" among the points that have one, so none misses samples.
    let oldest = null;
    for (const b of buffers) {
      if (b.length && (oldest === null || b.lastMs < oldest.lastMs)) oldest = b;
    }
    return oldest ? oldest.lastRaw : new Date(Date.now() - windowMs).toISOString();
  }

  /** Fetch `names` since the last samples (the first time: the window's newest samples) into `buffers`. */
  async function fetchInto(names, buffers, windowMs, first, signal) {
    const params = first
      ? { point: names, start: new Date(Date.now() - windowMs).toISOString(), limit: LIMIT, order: 'desc' }
      : { point: names, start: nextStart(names.map((n) => buffers[n]), windowMs), limit: LIMIT };
    const res = await request(`/telemetry/${encodeURIComponent(deviceId)}`, { params, signal });
    const series = (res && res.series) || {};
    let newest = NaN;
    for (const name of names) {
      buffers[name].append(series[name]);
      if (!(buffers[name].lastMs <= newest)) newest = buffers[name].lastMs;
    }
    // The window ends at the newest sample, so a browser clock ahead of the server's does not empty it.
    const cutoff = (Number.isNaN(newest) ? Date.now() : newest) - windowMs;
    for (const name of names) buffers[name].trim(cutoff);
  }

  function start(uPlot) {
    const stops = [];
    let rulPlot = null;
    let anomalyPlot = null;
    const band = rulNames.filter((n) => n !== 'health');
    if (uPlot && rulFig) {
      const unit = unitOf('rul') ? ` ${unitOf('rul')}` : '';
      const value = (u, v) => (v == null ? '—' : `${formatNumber(v, 1)}${unit}`);
      const series = band.map((name) => (name === 'rul'
        ? { label: t('health.rul'), stroke: '#2563eb', width: 2, points: { show: false }, value }
        : { label: t(`health.${name === 'rul_lower' ? 'lower' : 'upper'}`), stroke: '#93c5fd', width: 1, points: { show: false }, value }));
      const lower = band.indexOf('rul_lower') + 1;
      const upper = band.indexOf('rul_upper') + 1;
      const bands = lower && upper ? [{ series: [upper, lower], fill: 'rgba(37, 99, 235, 0.14)' }] : [];
      rulPlot = new uPlot(plotOptions(rulFig.plot, series, { bands }), [[], ...band.map(() => [])], rulFig.plot);
      stops.push(resizing(rulPlot, rulFig.plot));
    }
    if (uPlot && anomalyFig) {
      anomalyPlot = new uPlot(plotOptions(anomalyFig.plot, [
        { label: t('health.score'), stroke: '#9333ea', width: 1.5, points: { show: false }, value: (u, v) => (v == null ? '—' : formatNumber(v, 3)) },
        { label: t('health.threshold'), stroke: '#dc2626', width: 1, dash: [6, 4], points: { show: false }, value: () => formatNumber(THRESHOLD) },
      ]), [[], [], []], anomalyFig.plot);
      stops.push(resizing(anomalyPlot, anomalyFig.plot));
    }

    let firstRul = true;
    let firstAnomaly = true;
    const fail = (err) => {
      if (err.status !== 401) message.replaceChildren(messageBox('error', errorText(err)));
    };
    stops.push(poll(async (signal) => {
      const tasks = [];
      if (hasRul) {
        tasks.push(fetchInto(rulNames, rulBuffers, RUL_WINDOW_MS, firstRul, signal).then(() => {
          firstRul = false;
          const b = rulBuffers.rul;
          rulFig.el.dataset.points = String(b.length);
          rulFig.el.dataset.lastTs = b.lastRaw || '';
          const data = aligned(rulBuffers, band);
          rulFig.el.dataset.bandPoints = String(data[0].filter((_, i) => band.every((n, j) => n === 'rul' || data[j + 1][i] !== null)).length);
          rulFig.empty.hidden = b.length > 0;
          rulFig.latest.textContent = b.length && b.lastValue !== null ? formatNumber(b.lastValue, 1) : '';
          rulFig.latest.title = b.length ? formatDateTime(b.lastMs) : '';
          if (rulPlot) rulPlot.setData(data);
          renderFacts();
        }));
      }
      if (hasAnomaly) {
        const buffers = { [ANOMALY]: anomalyBuffer };
        tasks.push(fetchInto([ANOMALY], buffers, ANOMALY_WINDOW_MS, firstAnomaly, signal).then(() => {
          firstAnomaly = false;
          const [xs, ys] = anomalyBuffer.toData();
          anomalyFig.el.dataset.points = String(anomalyBuffer.length);
          anomalyFig.el.dataset.lastTs = anomalyBuffer.lastRaw || '';
          anomalyFig.empty.hidden = anomalyBuffer.length > 0;
          const last = anomalyBuffer.lastValue;
          anomalyFig.latest.textContent = last == null ? '' : formatNumber(last, 3);
          anomalyFig.latest.className = `chart-latest mono${last != null && last >= THRESHOLD ? ' text-danger' : ''}`;
          anomalyFig.latest.title = anomalyBuffer.length ? formatDateTime(anomalyBuffer.lastMs) : '';
          if (anomalyPlot) anomalyPlot.setData([xs, ys, xs.map(() => THRESHOLD)]);
        }));
      }
      tasks.push(request('/work-orders', { params: { device: deviceId, status: 'unclosed', limit: 5 }, signal })
        .then((page) => renderOrder(page.items)));
      await Promise.all(tasks);
      message.replaceChildren();
      refreshTimes(element);
    }, REFRESH_MS, fail));
    return () => { for (const stop of stops) stop(); };
  }

  return { element, start };
}
