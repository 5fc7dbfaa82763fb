// One safety warning: its level and status, the conditions now, the reasons, the timeline (opened,
// escalated, cleared, returned, assign, act, note, close) and its disposal:
//
//     open ──assign──▶ assigned ──act──▶ acting ──close (evidence)──▶ closed      (note: any time)
//
// Closing asks what caused it, the failure mode (the risk feature library's, or left to the features
// that matched), what was found and done, and up to five attachments (photos, PDF, text; read in the
// browser and sent as base64). The API refuses to close while the conditions still hold (409): its
// problem detail is shown. The actions are offered to engineers and administrators only.
//
// The page refreshes every 5 s; a form being filled in stays as it is while the status does not change.

import { download, request } from '../api.js';
import { errorText, h, messageBox, pageHeader, poll, refreshTimes, relativeTime } from '../dom.js';
import { formatDateTime, formatNumber, formatTime, t, tOr } from '../i18n.js';
import {
  REFRESH_MS, STEPS, actorText, levelBadge, loadLibrary, localText, none, reasonList, seg, statusBadge, subnav,
} from './safety_common.js';

const MAX_ATTACHMENTS = 5;
const MAX_ATTACHMENT_BYTES = 512 * 1024;
const ATTACHMENT_TYPES = ['image/jpeg', 'image/png', 'application/pdf', 'text/plain'];
const MAX_NOTE = 2000;

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function field(id, label, input, hint) {
  return h('label', { class: 'field', for: id }, h('span', { text: label }), input,
    hint ? h('span', { class: 'muted small field-hint', text: hint }) : null);
}

function textarea(id, testid, required) {
  return h('textarea', { id, 'data-testid': testid, rows: 3, maxlength: MAX_NOTE, required: required || null });
}

export async function mount(outlet, { params, signal }) {
  const number = Number(params.number);
  const [me, library] = await Promise.all([request('/auth/me', { signal }), loadLibrary(signal)]);
  const canAct = Boolean(me.user && (me.user.role === 'admin' || me.user.role === 'engineer'));
  let warning;
  try {
    warning = await request(`/safety/warnings/${number}`, { signal });
  } catch (err) {
    if (signal.aborted) return () => {};
    outlet.append(subnav('warnings'), pageHeader(t('safety.incident.title')),
      messageBox('error', err.status === 404 ? t('safety.incident.notFound') : errorText(err)),
      h('p', {}, h('a', { href: '#/safety/warnings', text: `← ${t('safety.incident.back')}` })));
    return () => {};
  }
  // The unit's type narrows the failure modes offered; the enterprise's title names it. Neither is vital.
  let unitType = null;
  let enterpriseTitle = null;
  request(`/safety/units/${seg(warning.unit)}`, { signal }).then((u) => { unitType = u.unit_type; }, () => {});
  request(`/safety/enterprises/${seg(warning.enterprise)}`, { signal }).then((e) => {
    enterpriseTitle = e.title;
    renderOverview(warning);
  }, () => {});

  const updated = h('span', { class: 'muted small', 'aria-live': 'off', 'data-testid': 'incident-updated' });
  const problem = h('div');
  const message = h('div', { 'aria-live': 'polite' });
  const headBadges = h('span', { class: 'toolbar flush' });
  const overview = h('div');
  const reasons = h('div', { 'data-testid': 'incident-reasons' });
  const evidenceBox = h('div');
  const timeline = h('ol', { class: 'timeline', 'data-testid': 'incident-timeline' });
  const actionBox = h('section', { class: 'panel incident-actions', 'aria-labelledby': 'incident-actions-heading', 'data-testid': 'incident-actions', hidden: !canAct });
  let actionsFor = null;

  // ---- rendering ---------------------------------------------------------------------------------
  function conditions(w) {
    if (w.status === 'closed') return none();
    return w.condition_level === null
      ? h('span', { class: 'badge badge-online', 'data-testid': 'incident-conditions', dataset: { level: '' } },
        h('span', { class: 'badge-dot', 'aria-hidden': 'true' }), t('safety.incident.conditionsCleared'))
      : levelBadge(w.condition_level, 'incident-conditions');
  }

  function renderOverview(w) {
    headBadges.replaceChildren(levelBadge(w.level, 'incident-level'), statusBadge(w.status, 'incident-status'));
    const rows = [
      [t('safety.warnings.col.unit'), h('a', { href: `#/safety/units/${seg(w.unit)}`, 'data-testid': 'incident-unit', text: w.unit_title || w.unit })],
      [t('safety.warnings.col.enterprise'), enterpriseTitle || w.enterprise],
      [t('safety.warnings.col.level'), h('span', {}, levelBadge(w.level, 'incident-level-fact'), ' ',
        h('span', { class: 'muted small' }, `${t('safety.incident.levelSince')} `, relativeTime(w.level_since)))],
      [t('safety.incident.conditions'), conditions(w)],
      [t('safety.warnings.col.opened'), formatDateTime(w.opened_at)],
      [t('safety.warnings.col.assignee'), w.assignee ? h('span', { 'data-testid': 'incident-assignee', text: w.assignee }) : none()],
      w.closed_at ? [t('safety.warnings.col.closed'), `${formatDateTime(w.closed_at)}${w.closed_by ? ` · ${w.closed_by}` : ''}`] : null,
      w.failure_mode ? [t('safety.incident.failureMode'), h('span', { 'data-testid': 'incident-failure-mode', dataset: { code: w.failure_mode } },
        library.modeTitle(w.failure_mode), h('span', { class: 'muted small mono', text: ` ${w.failure_mode}` }))] : null,
      w.cause ? [t('safety.incident.cause'), h('span', { 'data-testid': 'incident-cause', text: w.cause })] : null,
    ].filter(Boolean);
    overview.replaceChildren(h('dl', { class: 'facts' }, rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', {}, v)])));
    reasons.replaceChildren(reasonList(w.reasons, library));
  }

  function renderEvidence(w) {
    const ev = w.evidence;
    if (!ev) {
      evidenceBox.replaceChildren();
      return;
    }
    const files = (ev.attachments || []).map((a) => {
      const button = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'incident-attachment', text: a.name });
      button.addEventListener('click', async () => {
        try {
          await download(`/safety/warnings/${w.number}/evidence/${a.index}`, null, a.name);
        } catch (err) {
          if (err.status !== 401) message.replaceChildren(messageBox('error', errorText(err)));
        }
      });
      return h('li', {}, button, h('span', { class: 'muted small', text: ` ${a.content_type} · ${formatNumber(a.size / 1024, 1)} KiB` }));
    });
    evidenceBox.replaceChildren(h('section', { class: 'panel', 'aria-labelledby': 'evidence-heading', 'data-testid': 'incident-evidence' },
      h('h2', { id: 'evidence-heading', class: 'panel-title', text: t('safety.incident.evidence') }),
      h('dl', { class: 'facts' },
        h('dt', { text: t('safety.close.summary') }), h('dd', { 'data-testid': 'evidence-summary', text: ev.summary }),
        h('dt', { text: t('safety.close.measures') }), h('dd', {}, ev.measures || none()),
        h('dt', { text: t('safety.close.attachments') }), h('dd', {}, files.length ? h('ul', { class: 'plain' }, files) : none()))));
  }

  function eventDetails(e) {
    const d = e.details || {};
    const parts = [];
    if (e.kind === 'escalated') {
      if (d.from) parts.push(h('span', { class: 'small', text: t('safety.event.from', { level: tOr(`safety.level.${d.from}`, String(d.from)) }) }));
      if (e.note) parts.push(h('span', { class: 'small', 'data-testid': 'event-cause', text: ` · ${tOr(`safety.cause.${e.note}`, e.note)}` }));
    } else if (e.kind === 'assign' && d.assignee) {
      parts.push(h('span', { class: 'small', text: t('safety.event.assignedTo', { assignee: d.assignee }) }));
    } else if (e.kind === 'close') {
      if (d.failure_mode) parts.push(h('span', { class: 'small', text: `${t('safety.incident.failureMode')}: ${library.modeTitle(d.failure_mode)}` }));
      if (d.attachments) parts.push(h('span', { class: 'small muted', text: ` · ${t('safety.event.attachments', { n: d.attachments })}` }));
    }
    if (e.note && e.kind !== 'escalated') parts.push(h('p', { class: 'event-note', text: e.note }));
    if (Array.isArray(d.reasons) && d.reasons.length && e.kind !== 'cleared') parts.push(reasonList(d.reasons, library, 'event-reason'));
    return parts;
  }

  function renderTimeline(events) {
    timeline.replaceChildren(...events.map((e) => h('li', { class: `event event-${e.kind}`, 'data-testid': 'incident-event', dataset: { kind: e.kind } },
      h('div', { class: 'event-head' },
        h('time', { datetime: e.at, class: 'mono small', text: formatDateTime(e.at) }),
        h('strong', { class: 'event-kind', text: tOr(`safety.event.${e.kind}`, e.kind) }),
        e.level ? levelBadge(e.level, 'event-level') : null,
        h('span', { class: 'muted small', text: actorText(e.actor) })),
      eventDetails(e))));
  }

  // ---- actions -------------------------------------------------------------------------------------
  async function step(json) {
    const after = await request(`/safety/warnings/${number}/steps`, { method: 'POST', json });
    message.replaceChildren(messageBox('info', t(`safety.done.${json.action}`, { label: after.label })));
    show(after);
    renderActions(after, true);
    return after;
  }

  function stepForm(action, form, body, submitText) {
    const problemBox = h('div', { 'data-testid': 'incident-form-problem' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': `incident-${action}-submit`, text: submitText });
    const back = h('button', { type: 'button', class: 'btn', 'data-testid': 'incident-dismiss', text: t('safety.action.dismiss') });
    const element = h('form', { class: 'editor', 'data-testid': `incident-${action}-form` }, form, problemBox, h('p', { class: 'editor-actions toolbar' }, submit, back));
    back.addEventListener('click', () => renderActions(warning, true));
    element.addEventListener('submit', async (event) => {
      event.preventDefault();
      submit.disabled = true;
      problemBox.replaceChildren();
      try {
        const json = await body();
        if (json) await step(json);
      } catch (err) {
        if (err.status !== 401) problemBox.replaceChildren(messageBox('error', err.local ? err.message : errorText(err)));
      } finally {
        submit.disabled = false;
      }
    });
    return element;
  }

  function localError(text) {
    return Object.assign(new Error(text), { local: true });
  }

  function assignForm() {
    const input = h('input', { type: 'text', id: 'incident-assignee-input', 'data-testid': 'incident-assignee-input', required: true, maxlength: 320, value: warning.assignee || '' });
    return stepForm('assign', field('incident-assignee-input', t('safety.action.assignee'), input),
      async () => ({ action: 'assign', assignee: input.value.trim() }), t('safety.action.assign'));
  }

  function noteForm(action) {
    const input = textarea(`incident-${action}-note`, `incident-${action}-note`, true);
    return stepForm(action, field(`incident-${action}-note`, t(`safety.action.${action}Note`), input),
      async () => ({ action, note: input.value.trim() }), t(`safety.action.${action}`));
  }

  function closeForm() {
    const cause = textarea('incident-cause-input', 'incident-cause-input', true);
    const modes = library.modes.filter((m) => !unitType || (m.unit_types || []).some((u) => u === '*' || u === unitType));
    const mode = h('select', { id: 'incident-mode-input', 'data-testid': 'incident-mode-input' },
      h('option', { value: '', text: t('safety.close.modeFromFeatures') }),
      modes.map((m) => h('option', { value: m.code, text: `${localText(m.title, m.code)} (${m.code})` })));
    const summary = textarea('incident-summary-input', 'incident-summary-input', true);
    const measures = textarea('incident-measures-input', 'incident-measures-input', false);
    const files = h('input', {
      type: 'file', id: 'incident-files-input', 'data-testid': 'incident-files-input', multiple: true, accept: ATTACHMENT_TYPES.join(','),
    });
    const hold = h('div', { dataset: { hold: '' }, hidden: warning.condition_level === null },
      messageBox('warning', t('safety.close.conditionsHold')));
    const body = h('div', {}, hold,
      h('div', { class: 'form-grid form-grid-wide' },
        field('incident-cause-input', t('safety.close.cause'), cause),
        field('incident-mode-input', t('safety.incident.failureMode'), mode, library.version ? t('safety.close.library', { version: library.version }) : null),
        field('incident-summary-input', t('safety.close.summary'), summary),
        field('incident-measures-input', t('safety.close.measures'), measures),
        field('incident-files-input', t('safety.close.attachments'), files,
          t('safety.close.attachmentsHint', { n: MAX_ATTACHMENTS, size: formatNumber(MAX_ATTACHMENT_BYTES / 1024, 0) }))));
    return stepForm('close', body, async () => {
      const chosen = [...files.files];
      if (chosen.length > MAX_ATTACHMENTS) throw localError(t('safety.close.tooMany', { n: MAX_ATTACHMENTS }));
      for (const f of chosen) {
        if (!ATTACHMENT_TYPES.includes(f.type)) throw localError(t('safety.close.badType', { name: f.name }));
        if (f.size > MAX_ATTACHMENT_BYTES) throw localError(t('safety.close.tooLarge', { name: f.name, size: formatNumber(MAX_ATTACHMENT_BYTES / 1024, 0) }));
      }
      const attachments = await Promise.all(chosen.map(async (f) => ({ name: f.name, content_type: f.type, data: await readBase64(f) })));
      const json = {
        action: 'close',
        cause: cause.value.trim(),
        evidence: { summary: summary.value.trim(), measures: measures.value.trim(), attachments },
      };
      if (mode.value) json.failure_mode = mode.value;
      return json;
    }, t('safety.action.close'));
  }

  const FORMS = { assign: assignForm, act: () => noteForm('act'), note: () => noteForm('note'), close: closeForm };

  /** The buttons of the steps the status allows; one opens its form below them. Kept while the status stays. */
  function renderActions(w, force = false) {
    if (!canAct) return;
    if (!force && actionsFor === w.status) return;
    actionsFor = w.status;
    const heading = h('h2', { id: 'incident-actions-heading', class: 'panel-title', text: t('safety.action.title') });
    const allowed = STEPS[w.status] || [];
    if (!allowed.length) {
      actionBox.replaceChildren(heading, h('p', { class: 'panel-body muted small', text: t('safety.action.closed') }));
      return;
    }
    const formBox = h('div');
    const buttons = allowed.map((action) => {
      const button = h('button', { type: 'button', class: action === 'close' ? 'btn btn-primary' : 'btn', 'data-testid': `incident-${action}`, 'aria-expanded': 'false', text: t(`safety.action.${action}`) });
      button.addEventListener('click', () => {
        for (const b of buttons) b.setAttribute('aria-expanded', String(b === button));
        formBox.replaceChildren(FORMS[action]());
        const first = formBox.querySelector('input, textarea, select');
        if (first) first.focus();
      });
      return button;
    });
    actionBox.replaceChildren(heading, h('div', { class: 'panel-body' }, h('p', { class: 'toolbar' }, buttons), formBox));
  }

  function show(w) {
    warning = w;
    renderOverview(w);
    renderEvidence(w);
    renderTimeline(w.events || []);
    renderActions(w);
    for (const el of actionBox.querySelectorAll('[data-hold]')) el.hidden = w.condition_level === null;
    refreshTimes(outlet);
  }

  outlet.append(
    subnav('warnings'),
    h('p', { class: 'crumbs' }, h('a', { href: '#/safety/warnings', text: `← ${t('safety.incident.back')}` })),
    pageHeader(t('safety.incident.heading', { label: warning.label }), headBadges, updated),
    problem,
    message,
    h('div', { class: 'device-layout' },
      h('section', { class: 'panel', 'aria-labelledby': 'incident-ov' },
        h('h2', { id: 'incident-ov', class: 'panel-title', text: t('safety.incident.overview') }), overview),
      h('section', { class: 'panel', 'aria-labelledby': 'incident-reasons-heading' },
        h('h2', { id: 'incident-reasons-heading', class: 'panel-title', text: t('safety.incident.reasons') }), reasons)),
    actionBox,
    evidenceBox,
    h('section', { 'aria-labelledby': 'timeline-heading' },
      h('h2', { id: 'timeline-heading', class: 'section-title', text: t('safety.incident.timeline') }),
      h('div', { class: 'panel' }, timeline)));
  show(warning);

  const stop = poll(async (s) => {
    show(await request(`/safety/warnings/${number}`, { signal: s }));
    problem.replaceChildren();
    updated.textContent = t('common.updatedAt', { time: formatTime(new Date().toISOString()) });
  }, REFRESH_MS, (err) => {
    if (err.status !== 401) problem.replaceChildren(messageBox('error', errorText(err)));
  }, { immediate: false });
  return () => stop();
}
