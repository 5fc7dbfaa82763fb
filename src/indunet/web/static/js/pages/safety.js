// Safety production: the hazard sources of every enterprise, with their live warnings.
//
// - The hazard list: every unit, the most urgent live warning first, then the highest R; its GB 18218
//   grade with R, its warning's colour and a link to the warning.
// - The region map (when several enterprises have coordinates): an SVG of the enterprises as dots in the
//   colour of their worst open warning. No map tiles: the console works offline.
// - Per enterprise: its safety index (value and grade, today), its monthly report (HTML, PDF) and its
//   site plan, an SVG of its units' rectangles (`plan`: x metres east and y metres north of the site
//   origin for the south-west corner, width east-west, height north-south) filled with the unit's
//   warning colour, grey with none; a click opens the unit.
//
// Units and warnings refresh every 5 s; the safety indices, which are computed from the day's data,
// every 30 s.

import { request } from '../api.js';
import { emptyRow, errorText, h, messageBox, pageHeader, poll } from '../dom.js';
import { formatNumber, formatTime, t, tOr } from '../i18n.js';
import {
  LEVELS, REFRESH_MS, gradeBadge, levelBadge, levelColour, niceLength, none, reportButtons, seg, statusBadge, subnav, svg,
} from './safety_common.js';

const INDEX_MS = 30_000;
const HAZARD_COLUMNS = ['unit', 'enterprise', 'kind', 'grade', 'warning', 'link'];

/** The most urgent level first (a smaller number), no warning last; then the higher R. */
function byUrgency(a, b) {
  const la = a.warning ? a.warning.level : 9;
  const lb = b.warning ? b.warning.level : 9;
  return la - lb || (b.r || 0) - (a.r || 0) || a.name.localeCompare(b.name);
}

function worstLevel(units) {
  const levels = units.filter((u) => u.warning).map((u) => u.warning.level);
  return levels.length ? Math.min(...levels) : null;
}

function unitHref(name) {
  return `#/safety/units/${seg(name)}`;
}

// ---- site plan --------------------------------------------------------------------------------------
function sitePlan(enterprise, units) {
  const placed = units.filter((u) => u.plan);
  if (!placed.length) return h('p', { class: 'muted small plan-none', text: t('safety.map.noPlan') });
  const west = Math.min(...placed.map((u) => u.plan.x));
  const east = Math.max(...placed.map((u) => u.plan.x + u.plan.width));
  const south = Math.min(...placed.map((u) => u.plan.y));
  const north = Math.max(...placed.map((u) => u.plan.y + u.plan.height));
  const span = Math.max(east - west, north - south, 1);
  const pad = span * 0.08;
  const bar = niceLength(span / 4);
  const font = span / 26;
  // SVG y runs south: a point n metres north is drawn at y = -n.
  const box = [west - pad, -(north + pad), east - west + 2 * pad, north - south + 2 * pad + font * 2.2];
  const bottom = -(south - pad) + font * 1.6;
  const shapes = placed.map((u) => {
    const colour = levelColour(u.warning && u.warning.level);
    const { x, y, width, height } = u.plan;
    const label = `${u.title} (${u.name})`;
    const state = u.warning ? tOr(`safety.level.${u.warning.level}`, '') : t('safety.level.none');
    const link = svg('a', {
      href: unitHref(u.name), class: 'plan-unit', 'data-testid': 'plan-unit', 'aria-label': `${label}: ${state}`,
      dataset: { unit: u.name, level: u.warning ? u.warning.level : '' },
    },
    svg('title', { text: `${label}\n${state}` }),
    svg('rect', {
      x, y: -(y + height), width, height, fill: colour, 'data-testid': 'plan-rect', class: 'plan-rect',
    }),
    svg('text', {
      x: x + width / 2, y: -(y + height / 2), 'font-size': Math.min(font, height / 2.5, width / Math.max(3, u.name.length * 0.6)),
      class: 'plan-label', 'text-anchor': 'middle', 'dominant-baseline': 'middle', text: u.name,
    }));
    return link;
  });
  const scale = svg('g', { class: 'plan-scale', 'aria-hidden': 'true' },
    svg('line', { x1: west, y1: bottom, x2: west + bar, y2: bottom }),
    svg('text', { x: west + bar + font * 0.4, y: bottom, 'font-size': font * 0.8, 'dominant-baseline': 'middle', text: `${formatNumber(bar)} m` }),
    svg('text', { x: east, y: bottom, 'font-size': font * 0.8, 'text-anchor': 'end', 'dominant-baseline': 'middle', text: `↑ ${t('safety.map.north')}` }));
  return svg('svg', {
    class: 'site-plan', viewBox: box.join(' '), role: 'group', 'data-testid': 'site-plan', dataset: { enterprise: enterprise.name },
    'aria-label': t('safety.map.planOf', { enterprise: enterprise.title }),
  }, shapes, scale);
}

// ---- region map --------------------------------------------------------------------------------------
function regionMap(enterprises, unitsOf, onPick) {
  const located = enterprises.filter((e) => e.latitude !== null && e.latitude !== undefined && e.longitude !== null && e.longitude !== undefined);
  if (located.length < 2) return null;
  const meanLat = located.reduce((s, e) => s + e.latitude, 0) / located.length;
  const k = Math.cos((meanLat * Math.PI) / 180);
  const xy = (e) => [e.longitude * k, -e.latitude];
  const xs = located.map((e) => xy(e)[0]);
  const ys = located.map((e) => xy(e)[1]);
  const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys), 0.02);
  const pad = span * 0.15;
  const box = [Math.min(...xs) - pad, Math.min(...ys) - pad, Math.max(...xs) - Math.min(...xs) + 2 * pad, Math.max(...ys) - Math.min(...ys) + 2 * pad];
  // Drawn at a fixed height (CSS): sizes in parts of it look the same whatever the region's extent.
  const r = box[3] * 0.035;
  const font = box[3] * 0.06;
  const dots = located.map((e) => {
    const level = worstLevel(unitsOf(e));
    const [x, y] = xy(e);
    const state = level ? tOr(`safety.level.${level}`, '') : t('safety.level.none');
    return svg('g', {
      class: 'region-site', tabindex: '0', role: 'button', 'data-testid': 'region-dot', 'aria-label': `${e.title}: ${state}`,
      dataset: { enterprise: e.name, level: level || '' },
      onclick: () => onPick(e),
      onkeydown: (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          onPick(e);
        }
      },
    },
    svg('title', { text: `${e.title} · ${e.region_name || e.region}\n${state}` }),
    svg('circle', { cx: x, cy: y, r, fill: levelColour(level), class: 'region-circle' }),
    svg('text', { x: x + r * 1.5, y, 'font-size': font, 'dominant-baseline': 'middle', class: 'region-label', text: e.title }));
  });
  return svg('svg', { class: 'region-map', viewBox: box.join(' '), role: 'group', 'data-testid': 'region-map', 'aria-label': t('safety.map.region') }, dots);
}

export async function mount(outlet) {
  const updated = h('span', { class: 'muted small', 'aria-live': 'off', 'data-testid': 'safety-updated' });
  const problem = h('div');
  const message = h('div', { 'aria-live': 'polite' });
  const summary = h('p', { class: 'toolbar safety-summary', 'data-testid': 'safety-summary' });
  const hazardBody = h('tbody', {}, emptyRow(HAZARD_COLUMNS.length, t('common.loading')));
  const regionBox = h('div', { class: 'panel region-panel', hidden: true });
  const regionReports = h('div', { class: 'toolbar small', 'data-testid': 'region-reports' });
  const cardGrid = h('div', { class: 'enterprise-grid' });
  const cards = new Map();
  const indices = new Map();
  let enterprises = [];
  let units = [];

  const showError = (err) => message.replaceChildren(messageBox('error', errorText(err)));
  const unitsOf = (e) => units.filter((u) => u.enterprise === e.name);

  function hazardRow(u, titleOf) {
    const w = u.warning;
    return h('tr', {
      'data-testid': 'hazard-row',
      dataset: { unit: u.name, grade: u.major && u.level ? u.level : '', r: u.r, warningLevel: w ? w.level : '' },
    },
    h('td', {}, h('a', { href: unitHref(u.name), class: 'strong', 'data-testid': 'hazard-unit', text: u.title }),
      h('div', { class: 'muted small mono', text: u.name })),
    h('td', { 'data-testid': 'hazard-enterprise', text: titleOf(u.enterprise) }),
    h('td', {}, tOr(`safety.kind.${u.kind}`, u.kind), h('div', { class: 'muted small', text: tOr(`safety.unitType.${u.unit_type}`, u.unit_type) })),
    h('td', { class: 'nowrap' }, gradeBadge(u)),
    h('td', { class: 'nowrap' }, w ? levelBadge(w.level) : none()),
    h('td', { class: 'nowrap' }, w
      ? h('span', {}, h('a', { href: `#/safety/warnings/${w.number}`, class: 'mono', 'data-testid': 'hazard-warning-link', text: w.label }),
        ' ', statusBadge(w.status))
      : none()));
  }

  function renderSummary() {
    const majors = units.filter((u) => u.major && u.level);
    const open = units.filter((u) => u.warning);
    const chips = [
      h('span', { 'data-testid': 'summary-major' }, `${t('safety.summary.major')}: `,
        h('strong', { text: formatNumber(majors.length) }),
        majors.length
          ? h('span', { class: 'muted' }, ` (${LEVELS.map((g) => `${t(`safety.grade.${g}`)} ${majors.filter((u) => u.level === g).length}`).join(' · ')})`)
          : null),
      h('span', { 'data-testid': 'summary-warnings' }, `${t('safety.summary.warnings')}: `,
        h('strong', { text: formatNumber(open.length) }), ' ',
        LEVELS.filter((l) => open.some((u) => u.warning.level === l)).map((l) => [levelBadge(l, 'summary-level'), ' ',
          formatNumber(open.filter((u) => u.warning.level === l).length), ' '])),
    ];
    summary.replaceChildren(...chips);
  }

  function focusCard(e) {
    const card = cards.get(e.id);
    if (card) {
      card.el.scrollIntoView({ block: 'start', behavior: 'smooth' });
      card.el.focus({ preventScroll: true });
    }
  }

  function indexText(e) {
    const found = indices.get(e.name);
    if (!found) return h('span', { class: 'muted', text: t('common.loading') });
    if (found.error) return h('span', { class: 'muted', text: t('safety.index.unavailable') });
    return h('span', { title: found.components.map((c) => `${tOr(`safety.index.${c.key}`, c.key)}: ${formatNumber(c.score, 1)} × ${formatNumber(c.weight, 2)}`).join('\n') },
      h('strong', { class: 'index-value', 'data-testid': 'index-value', text: formatNumber(found.value, 1) }), ' ',
      h('span', { class: `badge badge-index badge-index-${found.grade}`, 'data-testid': 'index-grade', text: found.grade }));
  }

  function card(e) {
    let entry = cards.get(e.id);
    if (!entry) {
      const index = h('span', { 'data-testid': 'enterprise-index' });
      const plan = h('div', { class: 'plan-box' });
      const title = h('h3', { class: 'enterprise-title' });
      const meta = h('p', { class: 'muted small enterprise-meta' });
      const el = h('section', { class: 'panel enterprise-card', tabindex: '-1', 'data-testid': 'enterprise-card', dataset: { enterprise: e.name } },
        h('div', { class: 'enterprise-head' }, title,
          h('span', { class: 'enterprise-index' }, `${t('safety.index.title')}: `, index)),
        meta,
        h('p', { class: 'toolbar small enterprise-reports' }, h('span', { class: 'muted', text: t('safety.report.enterprise') }),
          reportButtons(`/safety/reports/enterprises/${seg(e.name)}`, `safety-${e.name}`, 'enterprise-report', showError)),
        plan);
      entry = { el, index, plan, title, meta };
      cards.set(e.id, entry);
    }
    entry.title.textContent = e.title;
    entry.meta.textContent = [e.code, [e.region_name, e.region].filter(Boolean).join(' ')].filter(Boolean).join(' · ');
    entry.index.replaceChildren(indexText(e));
    entry.plan.replaceChildren(sitePlan(e, unitsOf(e)));
    return entry.el;
  }

  function renderRegion() {
    const map = regionMap(enterprises, unitsOf, focusCard);
    const regions = [...new Map(enterprises.map((e) => [e.region, e.region_name])).entries()];
    regionReports.replaceChildren(...regions.flatMap(([code, name]) => [
      h('span', { class: 'muted', text: t('safety.report.region', { region: name ? `${name} (${code})` : code }) }),
      ...reportButtons(`/safety/reports/regions/${seg(code)}`, `safety-region-${code}`, `region-report-${code}`, showError),
    ]));
    regionBox.hidden = !map && !regions.length;
    regionBox.replaceChildren(...[
      h('h3', { class: 'panel-title', text: t('safety.map.region') }),
      map ? h('div', { class: 'region-box' }, map) : null,
      regionReports,
    ].filter(Boolean));
  }

  function render() {
    const titleOf = (name) => (enterprises.find((e) => e.name === name) || {}).title || name;
    units.sort(byUrgency);
    hazardBody.replaceChildren(...(units.length ? units.map((u) => hazardRow(u, titleOf)) : [emptyRow(HAZARD_COLUMNS.length, t('safety.hazards.empty'))]));
    renderSummary();
    renderRegion();
    const keep = new Set(enterprises.map((e) => e.id));
    for (const id of [...cards.keys()]) if (!keep.has(id)) cards.delete(id);
    const nodes = enterprises.map(card);
    const current = [...cardGrid.children];
    if (current.length !== nodes.length || current.some((n, i) => n !== nodes[i])) cardGrid.replaceChildren(...nodes);
  }

  async function load(signal2) {
    const [e, u] = await Promise.all([
      request('/safety/enterprises', { signal: signal2 }),
      request('/safety/units', { signal: signal2 }),
    ]);
    enterprises = e.items;
    units = u.items;
    render();
    problem.replaceChildren();
    updated.textContent = t('common.updatedAt', { time: formatTime(new Date().toISOString()) });
  }

  async function loadIndices(signal2) {
    await Promise.all(enterprises.map(async (e) => {
      try {
        indices.set(e.name, await request(`/safety/index/${seg(e.name)}`, { signal: signal2 }));
      } catch (err) {
        if (err.name === 'AbortError' || err.status === 401) throw err;
        indices.set(e.name, { error: err });
      }
    }));
    for (const e of enterprises) {
      const entry = cards.get(e.id);
      if (entry) entry.index.replaceChildren(indexText(e));
    }
  }

  outlet.append(
    subnav('hazards'),
    pageHeader(t('safety.title'), updated),
    problem,
    message,
    summary,
    h('section', { 'aria-labelledby': 'hazards-heading' },
      h('h2', { id: 'hazards-heading', class: 'section-title', text: t('safety.hazards.title') }),
      h('div', { class: 'panel table-wrap' }, h('table', { class: 'table', 'data-testid': 'hazard-table' },
        h('caption', { class: 'visually-hidden', text: t('safety.hazards.title') }),
        h('thead', {}, h('tr', {}, HAZARD_COLUMNS.map((c) => h('th', { scope: 'col', text: t(`safety.hazards.col.${c}`) })))),
        hazardBody))),
    h('section', { 'aria-labelledby': 'map-heading' },
      h('h2', { id: 'map-heading', class: 'section-title', text: t('safety.map.title') }),
      h('p', { class: 'muted small map-legend', 'data-testid': 'map-legend' },
        LEVELS.map((l) => [h('span', { class: `level-swatch level-swatch-${l}`, 'aria-hidden': 'true' }), ` ${t(`safety.level.${l}`)} `]),
        h('span', { class: 'level-swatch level-swatch-none', 'aria-hidden': 'true' }), ` ${t('safety.level.none')}`),
      regionBox,
      cardGrid));

  const stops = [];
  const failed = (err) => {
    if (err.status !== 401) problem.replaceChildren(messageBox('error', errorText(err)));
  };
  let indexStarted = false;
  stops.push(poll(async (s) => {
    await load(s);
    if (!indexStarted) {
      indexStarted = true;
      stops.push(poll(loadIndices, INDEX_MS, failed));
    }
  }, REFRESH_MS, failed));
  return () => stops.forEach((stop) => stop());
}
