// Shared by the gateway list and the gateway page: how a gateway's self-report
// and its devices' `gateway_*` client attributes are read and shown.
//
// A gateway is a device of type `edge_gateway` reporting its queue and uplink
// as telemetry; its field devices carry the label `gateway=<gateway name>` and
// the gateway writes their connection state as client attributes.

import { request } from './api.js';
import { h, relativeTime } from './dom.js';
import { formatNumber, t } from './i18n.js';

export const GATEWAY_TYPE = 'edge_gateway';
const PAGE = 1000;
// The API pages at 1000 at most; a few pages cover any realistic site, a bound keeps a runaway list finite.
const MAX_DEVICES = 5000;
const PARALLEL = 6;

/** Every device matching `params` (type / label / q), up to MAX_DEVICES, in name order. */
export async function listAll(params, signal) {
  const items = [];
  let total = Infinity;
  while (items.length < Math.min(total, MAX_DEVICES)) {
    const page = await request('/devices', { signal, params: { ...params, limit: PAGE, offset: items.length } });
    total = page.total;
    items.push(...page.items);
    if (!page.items.length) break;
  }
  return items;
}

/** `fn(item)` over `items`, at most PARALLEL requests in flight; a failed item gives `fallback`. */
export async function mapLimited(items, fn, fallback) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]);
      } catch (err) {
        // An abort or an expired session ends the whole refresh; one device's failure does not.
        if (err && (err.name === 'AbortError' || err.status === 401)) throw err;
        out[i] = fallback;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return out;
}

/** `{point: value}` and the newest sample time of a gateway's latest report. */
export async function latestReport(gatewayId, signal) {
  const res = await request(`/telemetry/${encodeURIComponent(gatewayId)}/latest`, { signal });
  const values = {};
  let ts = null;
  for (const [name, sample] of Object.entries((res && res.values) || {})) {
    values[name] = sample.value;
    if (!ts || sample.ts > ts) ts = sample.ts;
  }
  return { values, ts };
}

function badge(kind, text, dataset) {
  return h('span', { class: `badge badge-${kind}`, dataset },
    h('span', { class: 'badge-dot', 'aria-hidden': 'true' }), text);
}

/**
 * The uplink as the gateway last described it: `mqtt` (connected), `http` (the
 * fallback) or `down`. A gateway that stopped reporting cannot tell, so it shows "no report".
 */
export function uplinkState(gateway, values) {
  if (gateway.status !== 'online' || !values || !Object.keys(values).length) return 'silent';
  const mode = values.uplink_mode;
  if (mode === 'mqtt' || mode === 'http' || mode === 'down') return mode;
  if (values.uplink_connected === true) return 'mqtt';
  if (values.uplink_connected === false) return 'down';
  return 'silent';
}

const UPLINK_BADGE = { mqtt: 'online', http: 'unknown', down: 'danger', silent: 'offline' };

export function uplinkBadge(state) {
  return badge(UPLINK_BADGE[state] || 'offline', t(`gateways.uplink.${state}`), { testid: 'uplink', uplink: state });
}

const STATE_BADGE = { connected: 'online', connecting: 'unknown', backoff: 'danger' };

export function deviceStateBadge(state) {
  const known = state in STATE_BADGE;
  return badge(known ? STATE_BADGE[state] : 'offline', known ? t(`gateways.state.${state}`) : t('gateways.state.unknown'),
    { testid: 'device-state', state: known ? state : 'unknown' });
}

/** A number for a table cell, or a muted dash when the gateway did not report it. */
export function num(value, digits = 0, suffix = '') {
  if (typeof value !== 'number' || !Number.isFinite(value)) return h('span', { class: 'muted', text: t('common.none') });
  return `${formatNumber(value, digits)}${suffix}`;
}

/** 75 -> "1 min 15 s"; two units at most, an age does not need more. */
export function duration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return h('span', { class: 'muted', text: t('common.none') });
  const s = Math.max(0, Math.round(seconds));
  const parts = [];
  const units = [['d', 86400], ['h', 3600], ['min', 60], ['s', 1]];
  let rest = s;
  for (const [unit, size] of units) {
    if (parts.length === 2) break;
    const n = Math.floor(rest / size);
    if (n > 0 || (unit === 's' && !parts.length)) parts.push(t(`gateways.dur.${unit}`, { n: formatNumber(n) }));
    else if (parts.length) break;
    rest -= n * size;
  }
  return parts.join(' ');
}

export function bytes(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return t('common.none');
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = value;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${formatNumber(v, i ? 1 : 0)} ${units[i]}`;
}

/** "Since" of a device state: the gateway writes epoch milliseconds. */
export function since(epochMs) {
  const ms = Number(epochMs);
  if (epochMs === null || epochMs === undefined || epochMs === '' || !Number.isFinite(ms) || ms <= 0) {
    return h('span', { class: 'muted', text: t('common.none') });
  }
  return relativeTime(new Date(ms).toISOString());
}

/** "connected of total", red when some are missing. */
export function devicesCell(values) {
  const total = values.devices_total;
  const up = values.devices_connected;
  if (typeof total !== 'number') return num(undefined);
  const short = typeof up === 'number' && up < total;
  return h('span', { class: short ? 'text-danger strong' : '' },
    t('gateways.devicesOf', { connected: formatNumber(typeof up === 'number' ? up : 0), total: formatNumber(total) }));
}
