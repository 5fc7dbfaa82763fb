// uPlot wrapper for the live telemetry charts.
//
// uPlot is not in git: `console/vendor.sh` copies it from npm into ../vendor/.
// `loadChartLibrary()` adds its script and stylesheet on first use and
// rejects with `ChartLibraryMissing` when the file is not there, so the
// device page can say so instead of failing.

import { formatNumber, formatTime, formatValue, parseTime } from './i18n.js';

const VENDOR = new URL('../vendor/', import.meta.url);
const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#dc2626', '#4f46e5', '#65a30d'];

export class ChartLibraryMissing extends Error {
  constructor() {
    super('uPlot not found in vendor/');
    this.name = 'ChartLibraryMissing';
  }
}

let loading = null;

/** Chart value of a sample: numbers as is, booleans as 1/0, anything else a gap. */
function toNumber(value) {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return null;
}

function formatClock(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return d.getSeconds() ? `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function loadChartLibrary() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      if (!document.querySelector('link[data-uplot]')) {
        document.head.append(Object.assign(document.createElement('link'), {
          rel: 'stylesheet', href: new URL('uPlot.min.css', VENDOR).href,
        }));
        document.head.lastElementChild.dataset.uplot = '';
      }
      const script = document.createElement('script');
      script.src = new URL('uPlot.iife.min.js', VENDOR).href;
      script.onload = () => (window.uPlot ? resolve(window.uPlot) : reject(new ChartLibraryMissing()));
      script.onerror = () => {
        script.remove();
        loading = null;
        reject(new ChartLibraryMissing());
      };
      document.head.append(script);
    });
  }
  return loading;
}

/**
 * Time-ordered samples of one point, kept to a sliding window.
 * Timestamps are kept both raw (to send back to the API exactly) and as ms.
 */
export class SeriesBuffer {
  constructor() {
    this.ms = [];
    this.raw = [];
    this.values = [];
  }

  get length() {
    return this.ms.length;
  }

  get lastRaw() {
    return this.raw.length ? this.raw[this.raw.length - 1] : null;
  }

  get lastMs() {
    return this.ms.length ? this.ms[this.ms.length - 1] : NaN;
  }

  get lastValue() {
    return this.values.length ? this.values[this.values.length - 1] : null;
  }

  /** Add `[ts, value]` pairs (any order); those not newer than the last sample are skipped. */
  append(pairs) {
    const parsed = (pairs || [])
      .map(([ts, value]) => [parseTime(ts), ts, value])
      .filter(([ms]) => !Number.isNaN(ms))
      .sort((a, b) => a[0] - b[0]);
    let added = 0;
    for (const [ms, ts, value] of parsed) {
      if (this.ms.length && ms <= this.lastMs) continue;
      this.ms.push(ms);
      this.raw.push(ts);
      this.values.push(toNumber(value));
      added += 1;
    }
    return added;
  }

  /** Drop samples older than `cutoffMs`. */
  trim(cutoffMs) {
    let i = 0;
    while (i < this.ms.length && this.ms[i] < cutoffMs) i += 1;
    if (i) {
      this.ms.splice(0, i);
      this.raw.splice(0, i);
      this.values.splice(0, i);
    }
  }

  /** uPlot data: [[x seconds], [y]]. */
  toData() {
    return [this.ms.map((ms) => ms / 1000), this.values.slice()];
  }
}

/**
 * One small live chart in `el`. `label` names the series, `unit` suffixes
 * values in the legend, `timeLabel` names the x series in the legend.
 * Resizes with its container.
 */
export class LiveChart {
  constructor(uPlot, el, { label, unit = '', timeLabel = 'Time', index = 0, height = 150 }) {
    this.el = el;
    const color = PALETTE[index % PALETTE.length];
    const suffix = unit ? ` ${unit}` : '';
    const opts = {
      width: Math.max(200, el.clientWidth || 300),
      height,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: { x: { time: true } },
      axes: [
        {
          stroke: '#6b7280', grid: { stroke: '#eef0f3', width: 1 }, ticks: { stroke: '#e5e7eb', width: 1 },
          font: '11px system-ui, sans-serif',
          // 24-hour local times in the console's language instead of uPlot's English am/pm.
          values: (u, splits) => splits.map((v) => formatClock(v * 1000)),
        },
        {
          stroke: '#6b7280', grid: { stroke: '#eef0f3', width: 1 }, ticks: { stroke: '#e5e7eb', width: 1 }, size: 56,
          font: '11px system-ui, sans-serif',
          values: (u, splits) => splits.map((v) => formatNumber(v, 2)),
        },
      ],
      series: [
        { label: timeLabel, value: (u, v) => (v == null ? '—' : formatTime(v * 1000)) },
        {
          label, stroke: color, width: 1.5, fill: `${color}14`, points: { show: false },
          value: (u, v) => (v == null ? '—' : `${formatValue(v)}${suffix}`),
        },
      ],
    };
    this.plot = new uPlot(opts, [[], []], el);
    this.resizeObserver = new ResizeObserver(() => {
      const width = Math.floor(el.clientWidth);
      if (width > 0 && width !== this.plot.width) this.plot.setSize({ width, height });
    });
    this.resizeObserver.observe(el);
  }

  setData(data) {
    this.plot.setData(data);
  }

  destroy() {
    this.resizeObserver.disconnect();
    this.plot.destroy();
  }
}

/**
 * Add one poll's samples (`series`: point name -> [[ts, value], ...]) to each view's buffer and redraw
 * the last `windowMs`. The window ends at the newest sample, so a browser clock ahead of the server's
 * does not empty it. A view is `{name, unit, buffer, chart, figure, empty, latest}`; `formatWhen` turns
 * the latest value's timestamp (ms) into its tooltip.
 */
export function showSeries(views, series, windowMs, formatWhen = formatTime) {
  let newest = NaN;
  for (const v of views) {
    v.buffer.append(series[v.name]);
    if (!(v.buffer.lastMs <= newest)) newest = v.buffer.lastMs;
  }
  const cutoff = (Number.isNaN(newest) ? Date.now() : newest) - windowMs;
  for (const v of views) {
    v.buffer.trim(cutoff);
    v.chart.setData(v.buffer.toData());
    v.figure.dataset.points = String(v.buffer.length);
    v.figure.dataset.lastTs = v.buffer.lastRaw || '';
    v.empty.hidden = v.buffer.length > 0;
    v.latest.textContent = v.buffer.length ? `${formatValue(v.buffer.lastValue)}${v.unit ? ` ${v.unit}` : ''}` : '';
    v.latest.title = v.buffer.length ? formatWhen(v.buffer.lastMs) : '';
  }
}
