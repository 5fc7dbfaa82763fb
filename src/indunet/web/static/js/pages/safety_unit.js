// A hazard source (production or storage unit): its GB 18218-2018 calculation, its monitoring points
// with their set-points and what they rest on, the points' last hour as charts with the set-points drawn
// as dashed lines (first set-point / high and low: yellow; second / high-high and low-low: orange, the
// warning levels they raise), its open warning with the reasons, and its recent warnings.
//
// The unit and its warning refresh every 5 s; so do the charts, from the last sample each has
// (the first request asks for the window's newest samples, so a dense series still shows its end).

import { request } from '../api.js';
import { ChartLibraryMissing, SeriesBuffer, loadChartLibrary } from '../chart.js';
import { emptyRow, errorText, h, messageBox, pageHeader, poll, refreshTimes, relativeTime } from '../dom.js';
import { formatDateTime, formatNumber, formatTime, isChinese, t, tOr } from '../i18n.js';
import {
  LEVEL_COLOURS, REFRESH_MS, formatR, gradeBadge, levelBadge, loadLibrary, none, reasonList, seg, statusBadge, subnav,
} from './safety_common.js';

const WINDOW_MS = 3600 * 1000;
const LIMIT = 5000;
const HISTORY = 10;
const GAS = new Set(['combustible', 'toxic']);
// Set-point -> [abbreviation key, colour of the warning level it raises].
const SETPOINTS = [
  ['high_high', LEVEL_COLOURS[2]],
  ['high', LEVEL_COLOURS[3]],
  ['low', LEVEL_COLOURS[3]],
  ['low_low', LEVEL_COLOURS[2]],
];
const AXIS = { stroke: '#6b7280', grid: { stroke: '#eef0f3', width: 1 }, ticks: { stroke: '#e5e7eb', width: 1 }, font: '11px system-ui, sans-serif' };
const pad2 = (n) => String(n).padStart(2, '0');

function num(value, digits = 3) {
  return value === null || value === undefined ? '—' : formatNumber(value, digits);
}

function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).flatMap(([k, v, testid]) => [
    h('dt', { text: k }), h('dd', { 'data-testid': testid || null }, v)]));
}

/** GB 18218-2018 set out: a row per substance, the sums, α, R and the grade. */
function calculation(unit) {
  const g = unit.grading || {};
  const terms = g.terms || [];
  const row = (term) => h('tr', { 'data-testid': 'grading-term', dataset: { substance: term.substance } },
    h('td', {}, h('span', { class: 'strong', text: isChinese() ? term.name_zh : term.name_en }),
      h('span', { class: 'muted small mono', text: ` ${term.substance}` })),
    h('td', { class: 'num', text: num(term.quantity_t) }),
    h('td', { class: 'num', text: num(term.critical_t) }),
    h('td', { class: 'num', 'data-testid': 'grading-ratio', text: num(term.ratio, 4) }),
    h('td', { class: 'num', text: num(term.beta, 2) }),
    h('td', { class: 'num', text: num(term.weighted, 4) }));
  const foot = (label, ratio, weighted, testid) => h('tr', { class: 'sum-row' },
    h('th', { scope: 'row', colspan: 3, text: label }),
    h('td', { class: 'num strong', 'data-testid': testid ? `${testid}-ratio` : null, text: ratio }),
    h('td', {}),
    h('td', { class: 'num strong', 'data-testid': testid ? `${testid}-weighted` : null, text: weighted }));
  const table = h('table', { class: 'table table-grading', 'data-testid': 'grading-table' },
    h('caption', { class: 'visually-hidden', text: t('safety.grading.title') }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: t('safety.grading.substance') }),
      h('th', { scope: 'col', class: 'num', text: t('safety.grading.q') }),
      h('th', { scope: 'col', class: 'num', text: t('safety.grading.Q') }),
      h('th', { scope: 'col', class: 'num', text: 'q/Q' }),
      h('th', { scope: 'col', class: 'num', text: 'β' }),
      h('th', { scope: 'col', class: 'num', text: 'β·q/Q' }))),
    h('tbody', {}, terms.length ? terms.map(row) : emptyRow(6, t('safety.grading.noHoldings'))),
    h('tfoot', {}, foot('Σ', num(g.sum_ratio, 4), num(g.sum_weighted, 4), 'grading-sum')));
  const major = Boolean(g.major);
  const result = facts([
    [t('safety.grading.identification'), h('span', {},
      h('span', { class: 'mono', text: `Σ(q/Q) = ${num(g.sum_ratio, 4)} ${major ? '≥' : '<'} 1` }), ' → ',
      h('strong', { 'data-testid': 'grading-major', dataset: { major: String(major) }, text: t(major ? 'safety.grading.majorYes' : 'safety.grading.majorNo') }))],
    [t('safety.grading.exposed'), `${formatNumber(g.exposed_people ?? unit.exposed_people)} → α = ${num(g.alpha, 2)}`, 'grading-alpha'],
    [t('safety.grading.formula'), h('span', { class: 'mono', text: g.formula || 'R = α·Σ(β·q/Q)' })],
    [t('safety.grading.r'), h('strong', { class: 'mono', text: `${num(g.alpha, 2)} × ${num(g.sum_weighted, 4)} = ${formatR(g.r)}` }), 'grading-r'],
    [t('safety.grading.grade'), gradeBadge(unit, 'grading-grade')],
    g.standard ? [t('safety.grading.standard'), g.standard] : null,
  ]);
  return h('section', { class: 'panel', 'aria-labelledby': 'grading-heading', 'data-testid': 'grading' },
    h('h2', { id: 'grading-heading', class: 'panel-title', text: t('safety.grading.title') }),
    h('div', { class: 'table-wrap' }, table), result);
}

function setpointsText(p) {
  const parts = SETPOINTS.filter(([key]) => p[key] !== null && p[key] !== undefined)
    .map(([key]) => `${t(`safety.points.${key}`)} ${num(p[key])}`);
  return parts.length ? `${parts.join(' · ')}${p.measure_unit ? ` ${p.measure_unit}` : ''}` : '';
}

function basisText(p) {
  if (p.basis === 'process limits') return t('safety.points.basisProcess');
  return GAS.has(p.kind) ? `GB/T 50493-2019: ${p.basis}` : p.basis;
}

function pointsTable(points, latest) {
  const head = ['device', 'point', 'kind', 'low_low', 'low', 'high', 'high_high', 'latest', 'basis'];
  return h('div', { class: 'panel table-wrap' }, h('table', { class: 'table', 'data-testid': 'points-table' },
    h('caption', { class: 'visually-hidden', text: t('safety.points.title') }),
    h('thead', {}, h('tr', {}, head.map((c) => h('th', {
      scope: 'col', class: ['device', 'point', 'kind', 'basis'].includes(c) ? null : 'num', text: t(`safety.points.col.${c}`),
    })))),
    h('tbody', {}, points.length ? points.map((p) => h('tr', { 'data-testid': 'point-row', dataset: { device: p.device, point: p.point, kind: p.kind } },
      h('td', {}, h('a', { href: `#/devices/${seg(p.device_id)}`, text: p.device })),
      h('td', { class: 'mono', text: p.point }),
      h('td', {}, tOr(`safety.pointKind.${p.kind}`, p.kind), p.substance ? h('span', { class: 'muted small', text: ` (${p.substance})` }) : null),
      ...['low_low', 'low', 'high', 'high_high'].map((k) => h('td', { class: 'num mono', 'data-testid': `point-${k}`, text: num(p[k]) })),
      h('td', { class: 'num mono', 'data-testid': 'point-latest', text: latest(p) }),
      h('td', { class: 'small', 'data-testid': 'point-basis', text: basisText(p) })))
      : emptyRow(head.length, t('safety.points.empty')))));
}

function chartOptions(el, p, unit) {
  const suffix = unit ? ` ${unit}` : '';
  const value = (u, v) => (v == null ? '—' : `${formatNumber(v, 2)}${suffix}`);
  const limits = SETPOINTS.filter(([key]) => p[key] !== null && p[key] !== undefined);
  return {
    opts: {
      width: Math.max(240, el.clientWidth || 420),
      height: 170,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: { x: { time: true } },
      axes: [
        { ...AXIS, values: (u, splits) => splits.map((v) => { const d = new Date(v * 1000); return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`; }) },
        { ...AXIS, size: 56, values: (u, splits) => splits.map((v) => formatNumber(v, 2)) },
      ],
      series: [
        { label: t('chart.time'), value: (u, v) => (v == null ? '—' : formatTime(v * 1000)) },
        { label: p.point, stroke: '#2563eb', width: 1.5, fill: '#2563eb14', points: { show: false }, value },
        ...limits.map(([key, colour]) => ({
          label: t(`safety.points.${key}`), stroke: colour, width: 1.5, dash: [6, 4], points: { show: false }, value: () => `${num(p[key])}${suffix}`,
        })),
      ],
    },
    limits: limits.map(([key]) => p[key]),
  };
}

export async function mount(outlet, { params, signal }) {
  const name = params.name;
  const stops = [];
  const plots = [];
  const cleanup = () => {
    for (const stop of stops) stop();
    for (const plot of plots) plot();
  };
  outlet.append(subnav('hazards'), h('p', { class: 'muted', role: 'status', text: t('common.loading') }));

  let unit;
  let library;
  let enterprise = null;
  try {
    [unit, library] = await Promise.all([request(`/safety/units/${seg(name)}`, { signal }), loadLibrary(signal)]);
    enterprise = await request(`/safety/enterprises/${seg(unit.enterprise)}`, { signal }).catch((err) => {
      if (err.status === 401 || err.name === 'AbortError') throw err;
      return null;
    });
  } catch (err) {
    if (signal.aborted) return cleanup;
    outlet.replaceChildren(subnav('hazards'), pageHeader(t('safety.unit.title')),
      messageBox('error', err.status === 404 ? t('safety.unit.notFound') : errorText(err)),
      h('p', {}, h('a', { href: '#/safety', text: `← ${t('safety.unit.back')}` })));
    return cleanup;
  }
  if (signal.aborted) return cleanup;

  const updated = h('span', { class: 'muted small', 'aria-live': 'off', 'data-testid': 'unit-updated' });
  const problem = h('div');
  const overview = h('div');
  const grading = h('div');
  const warningBox = h('section', { class: 'panel', 'aria-labelledby': 'unit-warning-heading', 'data-testid': 'unit-warning' });
  const pointsBox = h('div');
  const historyBody = h('tbody', {}, emptyRow(5, t('common.loading')));
  const chartMessage = h('div');
  const chartGrid = h('div', { class: 'chart-grid' });
  const buffers = new Map(); // "device_id\u0000point" -> SeriesBuffer
  const key = (p) => `${p.device_id}\u0000${p.point}`;
  const latestOf = (p) => {
    const b = buffers.get(key(p));
    return b && b.length && b.lastValue !== null ? formatNumber(b.lastValue, 3) : '—';
  };

  function renderUnit() {
    overview.replaceChildren(facts([
      [t('safety.unit.enterprise'), enterprise ? enterprise.title : unit.enterprise, 'unit-enterprise'],
      [t('safety.unit.kind'), `${tOr(`safety.kind.${unit.kind}`, unit.kind)} · ${tOr(`safety.unitType.${unit.unit_type}`, unit.unit_type)}`],
      [t('safety.unit.exposed'), formatNumber(unit.exposed_people)],
      [t('safety.hazards.col.grade'), gradeBadge(unit, 'unit-grade')],
      [t('safety.hazards.col.warning'), unit.warning ? levelBadge(unit.warning.level, 'unit-level') : levelBadge(null, 'unit-level')],
      unit.plan ? [t('safety.unit.plan'), `x ${num(unit.plan.x, 1)} m · y ${num(unit.plan.y, 1)} m · ${num(unit.plan.width, 1)} × ${num(unit.plan.height, 1)} m`] : null,
    ]));
    grading.replaceChildren(calculation(unit));
    pointsBox.replaceChildren(pointsTable(unit.points || [], latestOf));
  }

  async function renderWarning(s) {
    const heading = h('h2', { id: 'unit-warning-heading', class: 'panel-title', text: t('safety.unit.warning') });
    if (!unit.warning) {
      warningBox.dataset.number = '';
      warningBox.replaceChildren(heading, h('p', { class: 'panel-body muted', 'data-testid': 'unit-no-warning', text: t('safety.unit.noWarning') }));
      return;
    }
    const w = await request(`/safety/warnings/${unit.warning.number}`, { signal: s });
    warningBox.dataset.number = String(w.number);
    warningBox.replaceChildren(heading, h('div', { class: 'panel-body' },
      h('p', { class: 'toolbar' },
        h('a', { href: `#/safety/warnings/${w.number}`, class: 'mono strong', 'data-testid': 'unit-warning-link', text: w.label }),
        levelBadge(w.level), statusBadge(w.status),
        w.condition_level === null
          ? h('span', { class: 'muted small', text: t('safety.incident.conditionsCleared') })
          : h('span', { class: 'small' }, `${t('safety.incident.conditions')}: `, levelBadge(w.condition_level, 'unit-condition-level')),
        h('span', { class: 'muted small' }, `${t('safety.warnings.col.opened')} `, relativeTime(w.opened_at)),
        w.assignee ? h('span', { class: 'small' }, `${t('safety.warnings.col.assignee')}: ${w.assignee}`) : null),
      reasonList(w.reasons, library)));
  }

  async function loadHistory(s) {
    const page = await request('/safety/warnings', { signal: s, params: { unit: unit.name, limit: HISTORY } });
    historyBody.replaceChildren(...(page.items.length ? page.items.map((w) => h('tr', { 'data-testid': 'unit-history-row', dataset: { number: w.number, status: w.status } },
      h('td', {}, h('a', { href: `#/safety/warnings/${w.number}`, class: 'mono', text: w.label })),
      h('td', {}, levelBadge(w.level)),
      h('td', {}, statusBadge(w.status)),
      h('td', { class: 'nowrap' }, relativeTime(w.opened_at)),
      h('td', { class: 'nowrap' }, w.closed_at ? relativeTime(w.closed_at) : none())))
      : [emptyRow(5, t('safety.warnings.empty'))]));
  }

  outlet.replaceChildren(
    subnav('hazards'),
    h('p', { class: 'crumbs' }, h('a', { href: '#/safety', text: `← ${t('safety.unit.back')}` })),
    pageHeader(unit.title, h('span', { class: 'muted mono', text: unit.name }), updated),
    problem,
    h('div', { class: 'device-layout' },
      h('section', { class: 'panel', 'aria-labelledby': 'unit-ov' },
        h('h2', { id: 'unit-ov', class: 'panel-title', text: t('safety.unit.overview') }), overview),
      warningBox),
    grading,
    h('section', { 'aria-labelledby': 'points-heading' },
      h('h2', { id: 'points-heading', class: 'section-title', text: t('safety.points.title') }), pointsBox),
    h('section', { class: 'charts', 'aria-labelledby': 'trends-heading' },
      h('h2', { id: 'trends-heading', class: 'section-title', text: t('safety.unit.trends') }),
      chartMessage, chartGrid),
    h('section', { 'aria-labelledby': 'history-heading' },
      h('h2', { id: 'history-heading', class: 'section-title', text: t('safety.unit.history') }),
      h('div', { class: 'panel table-wrap' }, h('table', { class: 'table', 'data-testid': 'unit-history' },
        h('thead', {}, h('tr', {}, ['number', 'level', 'status', 'opened', 'closed'].map((c) => h('th', { scope: 'col', text: t(`safety.warnings.col.${c}`) })))),
        historyBody))));
  renderUnit();
  document.title = `${unit.title} · indunet`;

  const failed = (err) => {
    if (err.status !== 401) problem.replaceChildren(messageBox('error', errorText(err)));
  };
  stops.push(poll(async (s) => {
    unit = await request(`/safety/units/${seg(name)}`, { signal: s });
    renderUnit();
    await Promise.all([renderWarning(s), loadHistory(s)]);
    refreshTimes(outlet);
    problem.replaceChildren();
    updated.textContent = t('common.updatedAt', { time: formatTime(new Date().toISOString()) });
  }, REFRESH_MS, failed));

  // ---- trends ------------------------------------------------------------------------------------
  const points = unit.points || [];
  if (!points.length) {
    chartMessage.replaceChildren(messageBox('info', t('safety.points.empty')));
    return cleanup;
  }
  let uPlot = null;
  try {
    uPlot = await loadChartLibrary();
  } catch (err) {
    if (!(err instanceof ChartLibraryMissing)) throw err;
    chartMessage.replaceChildren(messageBox('warning', t('device.chartLibMissing')));
  }
  if (signal.aborted) return cleanup;

  const views = points.map((p) => {
    const plotEl = h('div', { class: 'chart-plot' });
    const latest = h('span', { class: 'chart-latest mono' });
    const empty = h('p', { class: 'chart-empty muted small', text: t('safety.unit.noData') });
    const figure = h('figure', {
      class: 'chart panel', 'data-testid': 'unit-chart', 'data-device': p.device, 'data-point': p.point, 'data-points': '0', 'data-last-ts': '',
    },
    h('figcaption', { class: 'chart-caption' },
      h('span', {}, h('span', { class: 'strong', text: `${p.device} / ${p.point}` }),
        p.measure_unit ? h('span', { class: 'muted', text: ` (${p.measure_unit})` }) : null),
      latest),
    plotEl, empty,
    h('p', { class: 'muted small chart-setpoints', 'data-testid': 'chart-setpoints', text: setpointsText(p) }));
    chartGrid.append(figure);
    let plot = null;
    let limits = [];
    if (uPlot) {
      const built = chartOptions(plotEl, p, p.measure_unit);
      limits = built.limits;
      plot = new uPlot(built.opts, [[], [], ...limits.map(() => [])], plotEl);
      const observer = new ResizeObserver(() => {
        const width = Math.floor(plotEl.clientWidth);
        if (width > 0 && width !== plot.width) plot.setSize({ width, height: plot.height });
      });
      observer.observe(plotEl);
      plots.push(() => { observer.disconnect(); plot.destroy(); });
    }
    const buffer = new SeriesBuffer();
    buffers.set(key(p), buffer);
    return { p, figure, latest, empty, plot, limits, buffer };
  });
  const byDevice = new Map();
  for (const v of views) {
    if (!byDevice.has(v.p.device_id)) byDevice.set(v.p.device_id, []);
    byDevice.get(v.p.device_id).push(v);
  }

  let first = true;
  stops.push(poll(async (s) => {
    await Promise.all([...byDevice.entries()].map(async ([deviceId, group]) => {
      const floor = new Date(Date.now() - WINDOW_MS).toISOString();
      const have = group.filter((v) => v.buffer.length);
      const oldest = have.length ? have.reduce((a, b) => (a.buffer.lastMs <= b.buffer.lastMs ? a : b)).buffer.lastRaw : floor;
      const query = first
        ? { point: group.map((v) => v.p.point), start: floor, limit: LIMIT, order: 'desc' }
        : { point: group.map((v) => v.p.point), start: oldest, limit: LIMIT };
      const res = await request(`/telemetry/${seg(deviceId)}`, { signal: s, params: query });
      const series = (res && res.series) || {};
      for (const v of group) v.buffer.append(series[v.p.point]);
    }));
    first = false;
    let newest = NaN;
    for (const v of views) if (!(v.buffer.lastMs <= newest)) newest = v.buffer.lastMs;
    const cutoff = (Number.isNaN(newest) ? Date.now() : newest) - WINDOW_MS;
    for (const v of views) {
      v.buffer.trim(cutoff);
      const [xs, ys] = v.buffer.toData();
      if (v.plot) v.plot.setData([xs, ys, ...v.limits.map((limit) => xs.map(() => limit))]);
      v.figure.dataset.points = String(v.buffer.length);
      v.figure.dataset.lastTs = v.buffer.lastRaw || '';
      v.empty.hidden = v.buffer.length > 0;
      v.latest.textContent = v.buffer.length && v.buffer.lastValue !== null
        ? `${formatNumber(v.buffer.lastValue, 3)}${v.p.measure_unit ? ` ${v.p.measure_unit}` : ''}` : '';
      v.latest.title = v.buffer.length ? formatDateTime(v.buffer.lastMs) : '';
    }
    renderUnit();
    if (uPlot) chartMessage.replaceChildren();
  }, REFRESH_MS, (err) => {
    if (err.status !== 401) chartMessage.replaceChildren(messageBox('error', errorText(err)));
  }));

  return cleanup;
}
