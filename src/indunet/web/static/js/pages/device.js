// Device page: overview, latest values (twin) and live charts of numeric points; for types with
// predictive maintenance points, the health panel (health_panel.js) above the charts.
//
// Charts: one initial telemetry request for the last 10 minutes, then a poll
// every 2 s from the oldest "last timestamp" among the charted points (so no
// point misses samples; duplicates are skipped by SeriesBuffer). Each chart's
// container gets data-points / data-last-ts after every refresh so tests can
// see it move.

import { api, request } from '../api.js';
import { ChartLibraryMissing, LiveChart, SeriesBuffer, loadChartLibrary, showSeries } from '../chart.js';
import { errorText, h, labelChips, messageBox, pageHeader, poll, refreshTimes, relativeTime, statusBadge } from '../dom.js';
import { formatDateTime, formatValue, isChinese, t } from '../i18n.js';
import { buildHash } from '../router.js';
import { BAND_POINTS, hasHealth, healthPanel } from './health_panel.js';

const WINDOW_MS = 10 * 60 * 1000;
const TELEMETRY_MS = 2000;
const STATE_MS = 5000;
const LIMIT = 10000;
const NUMERIC = /^(int|uint|float|double|real|number|decimal)/i;

function localised(obj, field) {
  if (!obj) return '';
  return (isChinese() && obj[`${field}_zh`]) || obj[field] || '';
}

function isNumericType(dataType) {
  return NUMERIC.test(String(dataType || ''));
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

  // The page still works without the type definition or the twin; a 401 still ends it.
  const optional = (err) => (err.status === 401 ? Promise.reject(err) : null);
  let device;
  let type = null;
  let twin = null;
  try {
    [device, twin] = await Promise.all([
      api.device(id, { signal: ctx.signal }),
      api.twin(id, { signal: ctx.signal }).catch(optional),
    ]);
    type = await api.deviceType(device.type, { signal: ctx.signal }).catch(optional);
  } catch (err) {
    if (ctx.signal.aborted) return cleanup;
    outlet.replaceChildren(
      pageHeader(t('device.title')),
      messageBox('error', err.status === 404 ? t('device.notFound') : errorText(err)),
      h('p', {}, h('a', { href: '#/devices', text: `← ${t('device.back')}` })));
    return cleanup;
  }
  if (ctx.signal.aborted) return cleanup;

  const points = type ? type.points || [] : [];
  const pointByName = new Map(points.map((p) => [p.name, p]));

  // ---- identifier ----------------------------------------------------------
  // One element kept across the 5 s re-renders, so a registration in flight or its error stays put.
  const identifier = h('span', { 'data-testid': 'device-identifier' });
  let identifiersOn = false;
  function renderIdentifier() {
    const handle = device.labels && device.labels.identifier;
    if (handle) {
      if (identifier.dataset.handle !== handle) {
        identifier.dataset.handle = handle;
        identifier.replaceChildren(h('a', {
          href: buildHash('/identifiers', { handle }), class: 'mono', 'data-testid': 'identifier-link', text: handle,
        }));
      }
      return true;
    }
    if (!identifiersOn) return false;
    if (!identifier.querySelector('button')) {
      delete identifier.dataset.handle;
      const register = h('button', { type: 'button', class: 'btn', 'data-testid': 'register-identifier', text: t('device.registerIdentifier') });
      const problem = h('span', { class: 'text-danger small', role: 'alert' });
      register.addEventListener('click', async () => {
        register.disabled = true;
        problem.textContent = '';
        try {
          device = await request(`/identifiers/devices/${encodeURIComponent(id)}`, { method: 'POST' });
          renderOverview();
        } catch (err) {
          register.disabled = false;
          if (err.status !== 401) problem.textContent = errorText(err);
        }
      });
      identifier.replaceChildren(register, ' ', problem);
    }
    return true;
  }

  // ---- overview ------------------------------------------------------------
  const overview = h('dl', { class: 'facts' });
  function renderOverview() {
    const typeTitle = type ? localised(type, 'title') || type.name : device.type;
    const facts = [
      [t('device.status'), statusBadge(device.status)],
      [t('device.lastSeen'), relativeTime(device.last_seen)],
      [t('device.type'), h('span', {}, typeTitle, type && type.version ? h('span', { class: 'muted', text: ` v${type.version}` }) : null)],
      [t('device.id'), h('code', { text: device.id })],
      [t('device.created'), formatDateTime(device.created_at)],
      [t('device.location'), device.location ? locationText(device.location) : h('span', { class: 'muted', text: t('common.none') })],
      [t('device.labels'), labelChips(device.labels)],
    ];
    if (type && type.reference) facts.push([t('device.reference'), h('span', { class: 'mono', text: type.reference })]);
    if (renderIdentifier()) facts.push([t('device.identifier'), identifier]);
    for (const [k, v] of Object.entries(device.attributes || {})) facts.push([k, h('span', { class: 'mono', text: formatValue(v) })]);
    overview.replaceChildren(...facts.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', {}, v)]));
  }

  // ---- latest values (twin) ------------------------------------------------
  const twinBody = h('tbody');
  function renderTwin() {
    const reported = (twin && twin.reported) || {};
    const desired = (twin && twin.desired) || {};
    const names = [...points.map((p) => p.name), ...Object.keys(reported).filter((n) => !pointByName.has(n))];
    if (!names.length) {
      twinBody.replaceChildren(h('tr', {}, h('td', { colspan: 5, class: 'empty', text: t('device.noTwin') })));
      return;
    }
    twinBody.replaceChildren(...names.map((name) => {
      const point = pointByName.get(name);
      const rep = reported[name];
      const want = desired[name];
      const unit = point && point.unit ? point.unit : '';
      return h('tr', { 'data-testid': `twin-${name}` },
        h('td', {}, h('span', { class: 'mono strong', text: name }),
          point ? h('div', { class: 'muted small', text: localised(point, 'description') }) : null),
        h('td', { class: 'num mono', 'data-testid': `twin-value-${name}` },
          rep ? formatValue(rep.value) : h('span', { class: 'muted', text: t('common.none') })),
        h('td', { class: 'muted', text: unit }),
        h('td', {}, rep ? relativeTime(rep.ts) : h('span', { class: 'muted', text: t('common.none') })),
        h('td', { class: 'mono' }, want === undefined ? '' : formatValue(want && typeof want === 'object' && 'value' in want ? want.value : want)));
    }));
  }

  // ---- charts --------------------------------------------------------------
  // The RUL interval's ends are drawn as the band of the health panel's chart, not charted alone.
  let numeric = points.filter((p) => isNumericType(p.data_type) && !BAND_POINTS.includes(p.name)).map((p) => p.name);
  if (!type && twin) {
    numeric = Object.entries(twin.reported || {}).filter(([, v]) => typeof (v && v.value) === 'number').map(([n]) => n);
  }
  const chartGrid = h('div', { class: 'chart-grid' });
  const chartMessage = h('div');
  const health = hasHealth(pointByName) ? healthPanel(id, pointByName) : null;

  const heading = localised(type, 'title');
  outlet.replaceChildren(...[
    h('p', { class: 'crumbs' }, h('a', { href: '#/devices', text: `← ${t('device.back')}` })),
    pageHeader(device.name || device.id, heading ? h('span', { class: 'muted', text: heading }) : null),
    type ? null : messageBox('info', t('device.typeUnavailable')),
    // What predictive maintenance says, then the live charts: what an operator opens a machine's page for.
    health ? health.element : null,
    h('section', { class: 'charts', 'aria-labelledby': 'charts-title' },
      h('h2', { id: 'charts-title', class: 'section-title', text: t('device.charts') }),
      chartMessage, chartGrid),
    h('div', { class: 'device-layout' },
      h('section', { class: 'panel', 'aria-labelledby': 'ov-title' },
        h('h2', { id: 'ov-title', class: 'panel-title', text: t('device.overview') }), overview),
      h('section', { class: 'panel', 'aria-labelledby': 'twin-title' },
        h('h2', { id: 'twin-title', class: 'panel-title', text: t('device.latest') }),
        h('div', { class: 'table-wrap' }, h('table', { class: 'table', 'data-testid': 'twin-table' },
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col', text: t('device.col.point') }),
            h('th', { scope: 'col', class: 'num', text: t('device.col.value') }),
            h('th', { scope: 'col', text: t('device.col.unit') }),
            h('th', { scope: 'col', text: t('device.col.updated') }),
            h('th', { scope: 'col', text: t('device.col.desired') }))),
          twinBody)))),
  ].filter(Boolean));

  renderOverview();
  renderTwin();
  if (!(device.labels && device.labels.identifier)) {
    // Offered only where the server has identifiers (idr_prefix); the API refuses readers' clicks.
    request('/identifiers', { signal: ctx.signal }).then((found) => {
      identifiersOn = Boolean(found && found.enabled);
      renderOverview();
    }, () => {});
  }

  // Device status and twin: every 5 s.
  stops.push(poll(async (signal) => {
    const [d, tw] = await Promise.all([api.device(id, { signal }), api.twin(id, { signal }).catch(() => twin)]);
    device = d;
    twin = tw;
    renderOverview();
    renderTwin();
  }, STATE_MS, () => {}, { immediate: false }));

  if (!numeric.length) {
    chartMessage.replaceChildren(messageBox('info', t('device.noNumeric')));
    return cleanup;
  }

  let uPlot;
  try {
    uPlot = await loadChartLibrary();
    if (ctx.signal.aborted) return cleanup;
  } catch (err) {
    if (!(err instanceof ChartLibraryMissing)) throw err;
    if (ctx.signal.aborted) return cleanup;
    chartMessage.replaceChildren(messageBox('warning', t('device.chartLibMissing')));
    if (health) stops.push(health.start(null));
    return cleanup;
  }
  if (health) stops.push(health.start(uPlot));

  const views = numeric.map((name, index) => {
    const point = pointByName.get(name);
    const unit = point && point.unit ? point.unit : '';
    const description = localised(point, 'description');
    const plotEl = h('div', { class: 'chart-plot' });
    const latest = h('span', { class: 'chart-latest mono' });
    const empty = h('p', { class: 'chart-empty muted small', text: t('device.noData') });
    const figure = h('figure', {
      class: 'chart panel', 'data-testid': `chart-${name}`, 'data-point': name, 'data-points': '0', 'data-last-ts': '',
    },
    h('figcaption', { class: 'chart-caption' },
      h('span', {}, h('span', { class: 'mono strong', text: name }), unit ? h('span', { class: 'muted', text: ` (${unit})` }) : null,
        description ? h('span', { class: 'muted small chart-desc', text: description }) : null),
      latest),
    plotEl, empty);
    chartGrid.append(figure);
    const chart = new LiveChart(uPlot, plotEl, { label: name, unit, index, timeLabel: t('chart.time') });
    charts.push(chart);
    return { name, unit, figure, chart, latest, empty, buffer: new SeriesBuffer() };
  });

  function nextStart() {
    // The oldest "last sample" among points that have any, so nobody misses data.
    let oldest = null;
    for (const v of views) {
      if (!v.buffer.length) continue;
      if (oldest === null || v.buffer.lastMs < oldest.lastMs) oldest = v.buffer;
    }
    const floor = Date.now() - WINDOW_MS;
    if (oldest === null || oldest.lastMs < floor) return new Date(floor).toISOString();
    return oldest.lastRaw;
  }

  stops.push(poll(async (signal) => {
    const res = await api.telemetry(id, { points: numeric, start: nextStart(), limit: LIMIT }, { signal });
    const series = (res && res.series) || {};
    showSeries(views, series, WINDOW_MS, formatDateTime);
    chartMessage.replaceChildren();
    refreshTimes(outlet);
  }, TELEMETRY_MS, (err) => {
    if (err.status === 401) return;
    chartMessage.replaceChildren(messageBox('error', errorText(err)));
  }));

  return cleanup;
}

function locationText(location) {
  if (typeof location !== 'object') return String(location);
  const { name, lat, lon, latitude, longitude, ...rest } = location;
  const parts = [];
  if (name) parts.push(name);
  const la = lat ?? latitude;
  const lo = lon ?? longitude;
  if (la != null && lo != null) parts.push(`${Number(la).toFixed(5)}, ${Number(lo).toFixed(5)}`);
  for (const [k, v] of Object.entries(rest)) parts.push(`${k}: ${formatValue(v)}`);
  return parts.join(' · ') || JSON.stringify(location);
}
