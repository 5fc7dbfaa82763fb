// Indices: equipment operation indices (operating rate, working hours, utilisation, OEE ...) per
// group and period, as a chart with one line per group and a table with the fixed-base index and
// the period-on-period and year-on-year changes; CSV and Parquet downloads of the same series.
//
// The address keeps the choices (`?measure=oee&by=label:line&period=month`), so a link shows the
// same view. Nothing polls: the figures move with the roll-up, every few minutes at most.

import { download, request } from '../api.js';
import { ChartLibraryMissing, loadChartLibrary } from '../chart.js';
import { emptyRow, errorText, h, messageBox, pageHeader, table } from '../dom.js';
import { formatNumber, t, tOr } from '../i18n.js';
import { replaceQuery } from '../router.js';

const MEASURES = [
  'operating_rate', 'working_hours', 'utilisation', 'availability', 'performance', 'quality', 'oee', 'connected',
  'energy_kwh', 'energy_per_part', 'energy_per_hour',
];
const PERIODS = ['day', 'week', 'month', 'quarter', 'year'];
const GROUPINGS = ['all', 'type', 'label:line', 'label:industry', 'location:region', 'location:site', 'device'];
const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#dc2626', '#4f46e5', '#65a30d'];
const MAX_LINES = 8;

const isoDay = (d) => d.toISOString().slice(0, 10);

function select(id, values, current, label) {
  return h('select', { id, 'data-testid': id, 'aria-label': label },
    values.map((v) => h('option', { value: v, selected: v === current, text: tOr(`indices.${id}.${v}`, v) })));
}

function number(value, digits = 2) {
  return value === null || value === undefined ? h('span', { class: 'muted', text: '—' }) : formatNumber(value, digits);
}

export async function mount(outlet, ctx) {
  const today = new Date();
  const yearAgo = new Date(today.getTime() - 365 * 86_400_000);
  const state = {
    measure: MEASURES.includes(ctx.query.measure) ? ctx.query.measure : 'operating_rate',
    by: ctx.query.by || 'all',
    period: PERIODS.includes(ctx.query.period) ? ctx.query.period : 'month',
    from: ctx.query.from || isoDay(yearAgo),
    to: ctx.query.to || isoDay(today),
    base: ctx.query.base || '',
  };
  const measure = select('measure', MEASURES, state.measure, t('indices.measureLabel'));
  const by = select('by', GROUPINGS.includes(state.by) ? GROUPINGS : [...GROUPINGS, state.by], state.by, t('indices.byLabel'));
  const period = select('period', PERIODS, state.period, t('indices.periodLabel'));
  const from = h('input', { type: 'date', value: state.from, 'data-testid': 'indices-from', 'aria-label': t('indices.from') });
  const to = h('input', { type: 'date', value: state.to, 'data-testid': 'indices-to', 'aria-label': t('indices.to') });
  const base = h('input', { type: 'text', value: state.base, placeholder: t('indices.basePlaceholder'), size: 10, 'data-testid': 'indices-base', 'aria-label': t('indices.base') });
  const message = h('div', { 'aria-live': 'polite' });
  const chartBox = h('div', { class: 'panel chart-box', 'data-testid': 'indices-chart' });
  const rows = h('tbody', {}, emptyRow(6, t('common.loading')));
  const help = h('p', { class: 'muted small', 'data-testid': 'indices-help' });
  let plot = null;

  function params(extra = {}) {
    return { measure: state.measure, by: state.by, period: state.period, from: state.from, to: state.to, base: state.base, ...extra };
  }

  async function draw(items) {
    const periods = [...new Set(items.map((i) => i.period))].sort();
    const groups = [...new Set(items.map((i) => i.group))].slice(0, MAX_LINES);
    if (plot) { plot.destroy(); plot = null; }
    chartBox.replaceChildren();
    if (!periods.length) return;
    let uPlot;
    try {
      uPlot = await loadChartLibrary();
    } catch (err) {
      if (err instanceof ChartLibraryMissing) chartBox.replaceChildren(messageBox('info', t('device.chartLibMissing')));
      return;
    }
    const at = new Map(items.map((i) => [`${i.group}\u0000${i.period}`, i.value]));
    const data = [periods.map((_, n) => n), ...groups.map((g) => periods.map((p) => at.get(`${g}\u0000${p}`) ?? null))];
    plot = new uPlot({
      width: Math.max(300, chartBox.clientWidth || 600),
      height: 260,
      scales: { x: { time: false } },
      axes: [
        { values: (u, splits) => splits.map((v) => periods[v] ?? ''), font: '11px system-ui, sans-serif', stroke: '#6b7280' },
        { values: (u, splits) => splits.map((v) => formatNumber(v, 1)), font: '11px system-ui, sans-serif', stroke: '#6b7280', size: 56 },
      ],
      series: [
        { label: t('indices.col.period'), value: (u, v) => (v == null ? '—' : periods[v]) },
        ...groups.map((g, n) => ({ label: g, stroke: PALETTE[n % PALETTE.length], width: 2, spanGaps: false, points: { size: 5 } })),
      ],
    }, data, chartBox);
  }

  async function load() {
    replaceQuery(Object.fromEntries(Object.entries(params()).filter(([, v]) => v)));
    help.textContent = t(`indices.help.${state.measure}`);
    try {
      const answer = await request('/indices', { params: params(), signal: ctx.signal });
      message.replaceChildren();
      rows.replaceChildren(...(answer.items.length
        ? answer.items.map((i) => h('tr', { 'data-testid': 'indices-row', dataset: { group: i.group, period: i.period } },
          h('td', { text: i.group }), h('td', { class: 'mono', text: i.period }),
          h('td', { class: 'num', 'data-testid': 'indices-value' }, number(i.value)),
          h('td', { class: 'num' }, number(i.index, 1)),
          h('td', { class: 'num' }, number(i.change, 1)),
          h('td', { class: 'num' }, number(i.change_yoy, 1))))
        : [emptyRow(6, t('indices.none'))]));
      await draw(answer.items);
    } catch (err) {
      if (ctx.signal.aborted) return;
      message.replaceChildren(messageBox('error', errorText(err)));
    }
  }

  for (const [control, key] of [[measure, 'measure'], [by, 'by'], [period, 'period'], [from, 'from'], [to, 'to'], [base, 'base']]) {
    control.addEventListener('change', () => { state[key] = control.value.trim(); load(); });
  }
  const exportButton = (format) => h('button', {
    type: 'button', class: 'btn', 'data-testid': `indices-${format}`, text: t(`indices.export.${format}`),
    onclick: async () => {
      try {
        await download('/indices', params({ format }), `indices-${state.measure}-${state.period}.${format}`);
      } catch (err) {
        message.replaceChildren(messageBox('error', errorText(err)));
      }
    },
  });

  outlet.replaceChildren(
    pageHeader(t('indices.title'), exportButton('csv'), exportButton('parquet')),
    h('div', { class: 'toolbar indices-controls' },
      h('label', { text: t('indices.measureLabel') }, measure), h('label', { text: t('indices.byLabel') }, by),
      h('label', { text: t('indices.periodLabel') }, period), h('label', { text: t('indices.from') }, from),
      h('label', { text: t('indices.to') }, to), h('label', { text: t('indices.base') }, base)),
    help, message, chartBox,
    table('indices-table', [
      [t('indices.col.group')], [t('indices.col.period')], [t('indices.col.value'), 'num'],
      [t('indices.col.index'), 'num'], [t('indices.col.change'), 'num'], [t('indices.col.yoy'), 'num'],
    ], rows));
  await load();
  return () => { if (plot) plot.destroy(); };
}
