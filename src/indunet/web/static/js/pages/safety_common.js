// What the safety production pages share (safety.js, safety_unit.js, incidents.js, incident.js):
// the four warning levels and their colours, the GB 18218 hazard grades, the texts of a warning's
// reasons, the risk feature library (titles of features and failure modes), SVG building, report
// files (fetched with the session's token) and the pages' sub-navigation.
//
// Two scales that must never be confused: a *warning level* (1 red … 4 blue, how urgent the present
// conditions are) and a *hazard grade* (一级 … 四级, GB 18218-2018's R value: how much harm the unit's
// inventory could do). Warning levels are coloured badges; hazard grades are outlined ones.

import { ApiError, download, request, session } from '../api.js';
import { h } from '../dom.js';
import { formatNumber, getLanguage, t, tOr } from '../i18n.js';

export const REFRESH_MS = 5000;
export const LEVELS = [1, 2, 3, 4];
export const LEVEL_COLOURS = { 1: '#d32f2f', 2: '#f57c00', 3: '#fbc02d', 4: '#1976d2' };
export const NO_WARNING_COLOUR = '#bdbdbd';
export const STATUSES = ['open', 'assigned', 'acting', 'closed'];
// What each status allows (apps/safety/warnings.py ACTIONS); the API answers 409 otherwise.
export const STEPS = {
  open: ['assign', 'note'],
  assigned: ['assign', 'act', 'note'],
  acting: ['assign', 'act', 'note', 'close'],
  closed: [],
};
// Pale badges, so a status is never read as a (filled) warning level.
const STATUS_BADGE = { open: 'danger', assigned: 'progress', acting: 'progress', closed: 'offline' };
const SVG_NS = 'http://www.w3.org/2000/svg';
const SYSTEM_ACTOR = 'system:safety';

export const seg = encodeURIComponent;

export function levelColour(level) {
  return LEVEL_COLOURS[level] || NO_WARNING_COLOUR;
}

function dot() {
  return h('span', { class: 'badge-dot', 'aria-hidden': 'true' });
}

export function none() {
  return h('span', { class: 'muted', text: t('common.none') });
}

/** A warning level's badge in its colour ("Yellow warning" / "黄色预警"); no level: "No warning". */
export function levelBadge(level, testid = 'warning-level') {
  if (!LEVEL_COLOURS[level]) {
    return h('span', { class: 'badge badge-offline', 'data-testid': testid, dataset: { level: '' } }, dot(), t('safety.level.none'));
  }
  return h('span', { class: `badge badge-level badge-level-${level}`, 'data-testid': testid, dataset: { level } },
    dot(), t(`safety.level.${level}`));
}

export function statusBadge(status, testid = 'warning-status') {
  return h('span', { class: `badge badge-${STATUS_BADGE[status] || 'offline'}`, 'data-testid': testid, dataset: { status } },
    dot(), tOr(`safety.status.${status}`, status));
}

/** R with two decimals at most ("70", "3.25"). */
export function formatR(r) {
  return r === null || r === undefined ? t('common.none') : formatNumber(r, 2);
}

/** The GB 18218 grade of a unit ("Grade 2 · R = 70" / "二级 · R = 70"), or that it is no major hazard source. */
export function gradeBadge(unit, testid = 'hazard-grade') {
  const r = h('span', { class: 'mono', 'data-testid': `${testid}-r`, text: formatR(unit.r) });
  if (!unit.major || !unit.level) {
    return h('span', { class: 'grade grade-none', 'data-testid': testid, dataset: { grade: '' } },
      h('span', { class: 'muted', text: t('safety.grade.none') }), ' ', h('span', { class: 'muted small' }, 'R = ', r));
  }
  return h('span', { class: 'grade', 'data-testid': testid, dataset: { grade: unit.level } },
    h('span', { class: `badge badge-grade badge-grade-${unit.level}`, 'data-testid': `${testid}-label`, text: t(`safety.grade.${unit.level}`) }),
    ' ', h('span', { class: 'small' }, 'R = ', r));
}

/** The text of an {en, zh-CN} map in the console's language. */
export function localText(text, fallback = '') {
  if (!text || typeof text !== 'object') return fallback;
  return text[getLanguage()] || text.en || Object.values(text)[0] || fallback;
}

/**
 * The risk feature library in use, for titles: `{version, features: Map(id → feature), modes:
 * [{code, title, unit_types}], modeTitle(code)}`. A library that cannot be read gives empty maps.
 */
export async function loadLibrary(signal) {
  let doc = { version: '', features: [], failure_modes: [] };
  try {
    doc = await request('/safety/features/document', { signal });
  } catch (err) {
    if (err.name === 'AbortError' || err.status === 401) throw err;
  }
  const modes = doc.failure_modes || [];
  const byCode = new Map(modes.map((m) => [m.code, m]));
  return {
    version: doc.version || '',
    features: new Map((doc.features || []).map((f) => [f.id, f])),
    modes,
    modeTitle: (code) => (byCode.has(code) ? localText(byCode.get(code).title, code) : code),
  };
}

function quantity(value) {
  return value === null || value === undefined ? '' : formatNumber(value, 2);
}

function duration(seconds) {
  if (seconds < 90) return t('safety.duration.seconds', { n: formatNumber(Math.max(0, Math.round(seconds)), 0) });
  if (seconds < 5400) return t('safety.duration.minutes', { n: formatNumber(Math.round(seconds / 60), 0) });
  return t('safety.duration.hours', { n: formatNumber(seconds / 3600, 1) });
}

/** One reason of a warning as a sentence in the console's language. */
export function reasonText(reason, library) {
  const code = String(reason.code || '');
  const details = reason.details || {};
  if (code.startsWith('feature.')) {
    const id = code.slice('feature.'.length);
    const feature = library && library.features.get(id);
    const text = t('safety.reason.feature', { title: feature ? localText(feature.title, id) : id });
    return details.history ? `${text} ${t('safety.reason.history')}` : text;
  }
  if (code.startsWith('alarm.')) {
    const severity = code.slice('alarm.'.length);
    return t('safety.reason.alarm', { severity: tOr(`alarms.severity.${severity}`, severity), rule: details.rule || '' });
  }
  const key = `safety.reason.${code}`;
  if (tOr(key, null) === null) return code;
  const unit = reason.unit ? ` ${reason.unit}` : '';
  return t(key, {
    point: reason.point || '',
    value: quantity(reason.value) + (reason.value === undefined || reason.value === null ? '' : unit),
    limit: quantity(reason.limit) + (reason.limit === undefined || reason.limit === null ? '' : unit),
    detectors: details.detectors ?? '',
  });
}

/** A list of reasons, each with its level's colour, what it says and, when known, how soon the next limit comes. */
export function reasonList(reasons, library, testid = 'warning-reason') {
  if (!reasons || !reasons.length) return h('p', { class: 'muted small', text: t('safety.reason.none') });
  return h('ul', { class: 'reasons' }, reasons.map((r) => h('li', {
    class: 'reason', 'data-testid': testid, dataset: { code: r.code, level: r.level },
  },
  h('span', { class: `level-swatch level-swatch-${r.level}`, title: tOr(`safety.level.${r.level}`, ''), 'aria-hidden': 'true' }),
  h('span', { class: 'visually-hidden', text: `${tOr(`safety.level.${r.level}`, '')}: ` }),
  h('span', { text: reasonText(r, library) }),
  r.eta_s !== undefined && r.eta_s !== null
    ? h('span', { class: 'muted small', text: ` · ${t('safety.reason.eta', { time: duration(r.eta_s) })}` })
    : null)));
}

export function actorText(actor) {
  return actor === SYSTEM_ACTOR ? t('safety.actor.system') : actor;
}

/** An SVG element (h() makes HTML ones). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

/** A round length (1, 2 or 5 × 10ⁿ) near `span`: the scale bar of a plan. */
export function niceLength(span) {
  const power = 10 ** Math.floor(Math.log10(Math.max(span, 1e-9)));
  const f = span / power;
  return (f >= 5 ? 5 : f >= 2 ? 2 : 1) * power;
}

/** The safety pages' sub-navigation: hazard sources | warnings. */
export function subnav(active) {
  const link = (key, href) => h('a', {
    href, class: 'tab', 'data-testid': `safety-tab-${key}`, 'aria-current': key === active ? 'page' : null,
    text: t(`safety.tab.${key}`),
  });
  return h('nav', { class: 'tabs safety-tabs', 'aria-label': t('safety.tab.label') },
    link('hazards', '#/safety'), link('warnings', '#/safety/warnings'));
}

async function problemOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const detail = body && typeof body.detail === 'string' ? body.detail : '';
  return new ApiError({ status: response.status, title: (body && body.title) || response.statusText, detail });
}

/**
 * A report (HTML) in a new tab. The console's auth is a bearer token, which a plain link cannot carry:
 * the tab is opened at the click (so no pop-up blocker stops it), the report is fetched with the token
 * and shown from an object URL. With no tab (blocked anyway) the file is downloaded instead.
 */
export async function openReport(path, params, filename) {
  const tab = window.open('', '_blank');
  try {
    const headers = {};
    if (session.token) headers.Authorization = `Bearer ${session.token}`;
    const url = new URL(`/api${path}`, window.location.origin);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const response = await fetch(url, { headers, credentials: 'same-origin' });
    if (!response.ok) throw await problemOf(response);
    const objectUrl = URL.createObjectURL(await response.blob());
    if (tab) {
      tab.location.href = objectUrl;
    } else {
      const a = Object.assign(document.createElement('a'), { href: objectUrl, download: filename });
      document.body.append(a);
      a.click();
      a.remove();
    }
    setTimeout(() => URL.revokeObjectURL(objectUrl), 60_000);
  } catch (err) {
    if (tab) tab.close();
    throw err;
  }
}

/** Buttons for a report: HTML (opened in a tab) and PDF (downloaded), in the console's language. */
export function reportButtons(path, stem, testid, onError) {
  const params = (format) => ({ period: 'monthly', format, lang: getLanguage() });
  const run = (button, job) => async () => {
    button.disabled = true;
    try {
      await job();
    } catch (err) {
      if (err.status !== 401) onError(err);
    } finally {
      button.disabled = false;
    }
  };
  const html = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': `${testid}-html`, text: t('safety.report.html') });
  const pdf = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': `${testid}-pdf`, text: t('safety.report.pdf') });
  html.addEventListener('click', run(html, () => openReport(path, params('html'), `${stem}.html`)));
  pdf.addEventListener('click', run(pdf, () => download(path, params('pdf'), `${stem}.pdf`)));
  return [html, pdf];
}
