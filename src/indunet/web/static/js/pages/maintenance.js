// Maintenance: work orders (filter by status, expand one for its reason and history, move it through
// assign → start → complete or cancel, open one by hand) and the PHM model registry (promote a
// candidate, archive a version). Both refresh every 5 s; the actions are offered to engineers and
// administrators only (the API refuses viewers anyway).
//
// A work order's rows are kept while its `updated_at` stays the same, so a refresh does not wipe an
// assignee or a resolution being typed. `?order=N` opens that order's details (the device page's
// health panel links here so).

import { request, requestWithStatus } from '../api.js';
import { emptyRow, errorText, h, messageBox, pageHeader, pager, poll, refreshTimes, relativeTime } from '../dom.js';
import { formatDateTime, formatNumber, formatTime, t } from '../i18n.js';
import { replaceQuery } from '../router.js';

const LIMIT = 50;
const REFRESH_MS = 5000;
const STATUSES = ['unclosed', 'open', 'assigned', 'in_progress', 'done', 'cancelled'];
const PRIORITIES = ['low', 'medium', 'high', 'urgent'];
// What each status allows (apps/phm/work_orders.py ACTIONS); the API says so too, with a 409.
const STEPS = {
  open: ['assign', 'cancel'],
  assigned: ['assign', 'start', 'cancel'],
  in_progress: ['complete', 'cancel'],
  done: [],
  cancelled: [],
};
// Steps that need text first: the assignee, the resolution, the reason.
const ASKS = { assign: 'assignee', complete: 'resolution', cancel: 'reason' };
const STATUS_BADGE = { open: 'unknown', assigned: 'unknown', in_progress: 'online', done: 'offline', cancelled: 'offline' };
const PRIORITY_BADGE = { low: 'offline', medium: 'unknown', high: 'danger', urgent: 'danger' };
const STAGE_BADGE = { candidate: 'unknown', production: 'online', archived: 'offline' };
const WO_COLUMNS = ['reference', 'device', 'title', 'source', 'priority', 'status', 'due', 'assignee', 'opened', 'actions'];
const MODEL_COLUMNS = ['name', 'version', 'kind', 'stage', 'target', 'created', 'metrics', 'actions'];

const seg = encodeURIComponent;

function badge(kind, testid, value, text) {
  return h('span', { class: `badge badge-${kind}`, 'data-testid': testid, dataset: { value } },
    h('span', { class: 'badge-dot', 'aria-hidden': 'true' }), text);
}

function none() {
  return h('span', { class: 'muted', text: t('common.none') });
}

function when(value) {
  return value ? relativeTime(value) : none();
}

function thead(prefix, columns, leading = false) {
  return h('thead', {}, h('tr', {},
    leading ? h('th', { scope: 'col', class: 'col-toggle' }, h('span', { class: 'visually-hidden', text: t('maintenance.details') })) : null,
    columns.map((col) => h('th', { scope: 'col', text: t(`${prefix}.${col}`) }))));
}

export async function mount(outlet, { query, signal }) {
  const state = {
    status: STATUSES.includes(query.status) ? query.status : (query.status === 'all' ? '' : 'unclosed'),
    offset: Math.max(0, Number(query.offset) || 0),
  };
  const me = await request('/auth/me', { signal });
  const canAct = Boolean(me.user && (me.user.role === 'admin' || me.user.role === 'engineer'));
  const expanded = new Set(query.order ? [Number(query.order)] : []);
  const deviceNames = new Map();
  const rowsByNumber = new Map();

  const updated = h('span', { class: 'muted small', 'aria-live': 'off', 'data-testid': 'maintenance-updated' });
  // What the user's own actions got (kept until the next action); what the refresh ran into (until it works again).
  const message = h('div', { 'aria-live': 'polite' });
  const refreshProblem = h('div');
  const statusSelect = h('select', { id: 'wo-status', 'data-testid': 'wo-status' },
    h('option', { value: '', text: t('maintenance.status.all') }),
    STATUSES.map((s) => h('option', { value: s, selected: s === state.status, text: t(`maintenance.status.${s}`) })));
  const woBody = h('tbody', {}, emptyRow(WO_COLUMNS.length + 1, t('common.loading')));
  const woFooter = h('div', { class: 'table-footer' });
  const modelBody = h('tbody', {}, emptyRow(MODEL_COLUMNS.length, t('common.loading')));
  const modelMessage = h('div', { 'aria-live': 'polite' });
  const modelProblem = h('div');

  // ---- new work order ----------------------------------------------------------------------------
  const form = newOrderForm();
  const newButton = canAct
    ? h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'wo-new', 'aria-expanded': 'false', text: t('maintenance.new') })
    : null;
  if (newButton) {
    newButton.addEventListener('click', () => {
      form.element.hidden = !form.element.hidden;
      newButton.setAttribute('aria-expanded', String(!form.element.hidden));
      if (!form.element.hidden) form.focus();
    });
  }

  function newOrderForm() {
    const device = h('input', { type: 'text', id: 'wo-new-device', required: true, maxlength: 128, 'data-testid': 'wo-new-device' });
    const title = h('input', { type: 'text', id: 'wo-new-title', required: true, maxlength: 200, 'data-testid': 'wo-new-title' });
    const priority = h('select', { id: 'wo-new-priority', 'data-testid': 'wo-new-priority' },
      PRIORITIES.map((p) => h('option', { value: p, selected: p === 'medium', text: t(`maintenance.priority.${p}`) })));
    const note = h('input', { type: 'text', id: 'wo-new-note', maxlength: 2000, 'data-testid': 'wo-new-note' });
    const problem = h('div');
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'wo-new-submit', text: t('maintenance.newSubmit') });
    const field = (id, label, input) => h('label', { class: 'field', for: id }, h('span', { text: label }), input);
    const element = h('form', { class: 'panel editor-panel', hidden: true, 'data-testid': 'wo-new-form', 'aria-labelledby': 'wo-new-heading' },
      h('h3', { id: 'wo-new-heading', class: 'panel-title', text: t('maintenance.newTitle') }),
      h('div', { class: 'editor' },
        h('div', { class: 'form-grid' },
          field('wo-new-device', t('maintenance.newDevice'), device),
          field('wo-new-title', t('maintenance.col.title'), title),
          field('wo-new-priority', t('maintenance.col.priority'), priority),
          field('wo-new-note', t('maintenance.newNote'), note)),
        problem,
        h('p', { class: 'editor-actions' }, submit)));
    element.addEventListener('submit', async (event) => {
      event.preventDefault();
      submit.disabled = true;
      problem.replaceChildren();
      try {
        const { body } = await requestWithStatus('/work-orders', {
          method: 'POST',
          json: { device: device.value.trim(), title: title.value.trim(), priority: priority.value, note: note.value.trim() },
        });
        element.reset();
        element.hidden = true;
        newButton.setAttribute('aria-expanded', 'false');
        message.replaceChildren(messageBox('info', t('maintenance.opened', { reference: body.reference })));
        reloadOrders();
      } catch (err) {
        if (err.status !== 401) problem.replaceChildren(messageBox('error', errorText(err)));
      } finally {
        submit.disabled = false;
      }
    });
    return { element, focus: () => device.focus() };
  }

  // ---- work orders -------------------------------------------------------------------------------
  function deviceLink(deviceId) {
    const name = deviceNames.get(deviceId);
    return h('a', { href: `#/devices/${seg(deviceId)}`, 'data-testid': 'wo-device', class: name ? null : 'mono', text: name || deviceId });
  }

  /** Names of the orders' devices, as the API gives them with each order. */
  function learnDevices(items) {
    for (const o of items) if (o.device_name) deviceNames.set(o.device_id, o.device_name);
  }

  async function step(order, action, text) {
    const json = { action };
    if (action === 'assign') json.assignee = text;
    else if (text) json.note = text;
    try {
      await request(`/work-orders/${order.number}/steps`, { method: 'POST', json });
      message.replaceChildren();
      reloadOrders();
    } catch (err) {
      if (err.status !== 401) message.replaceChildren(messageBox('error', errorText(err)));
      throw err;
    }
  }

  /** The actions cell: a button per allowed step; a step needing text swaps in a small form. */
  function actions(order, cell) {
    const buttons = (STEPS[order.status] || []).map((action) => {
      const button = h('button', { type: 'button', class: 'btn', 'data-testid': `wo-${action}`, text: t(`maintenance.step.${action}`) });
      button.addEventListener('click', async () => {
        if (ASKS[action]) {
          cell.replaceChildren(ask(order, action, cell));
          cell.querySelector('input').focus();
          return;
        }
        button.disabled = true;
        try {
          await step(order, action);
        } catch {
          button.disabled = false;
        }
      });
      return button;
    });
    cell.replaceChildren(...buttons.flatMap((b, i) => (i ? [' ', b] : [b])));
    cell.classList.add('nowrap');
  }

  function ask(order, action, cell) {
    const label = t(`maintenance.ask.${ASKS[action]}`);
    const input = h('input', {
      type: 'text', required: true, maxlength: action === 'assign' ? 320 : 2000, 'aria-label': label, placeholder: label,
      'data-testid': `wo-${action}-input`,
    });
    const ok = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': `wo-${action}-confirm`, text: t(`maintenance.step.${action}`) });
    const back = h('button', { type: 'button', class: 'btn', 'data-testid': 'wo-ask-dismiss', text: t('maintenance.dismiss') });
    back.addEventListener('click', () => actions(order, cell));
    const form = h('form', { class: 'toolbar', 'data-testid': 'wo-ask' }, input, ok, back);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      ok.disabled = true;
      try {
        await step(order, action, text);
      } catch {
        ok.disabled = false;
      }
    });
    cell.classList.remove('nowrap');
    return form;
  }

  function reasonFacts(order) {
    const reason = order.reason || {};
    const facts = [];
    const unit = ` ${t('maintenance.hours')}`;
    if (reason.model) facts.push([t('maintenance.reason.model'), reason.model]);
    if (reason.rul != null) facts.push([t('maintenance.reason.rul'), `${formatNumber(reason.rul, 1)}${unit}`]);
    if (reason.rul_lower != null) facts.push([t('maintenance.reason.lower'), `${formatNumber(reason.rul_lower, 1)}${unit}`]);
    if (reason.threshold != null) facts.push([t('maintenance.reason.threshold'), `${formatNumber(reason.threshold, 1)}${unit}`]);
    if (reason.at) facts.push([t('maintenance.reason.at'), formatDateTime(reason.at)]);
    if (order.due) facts.push([t('maintenance.col.due'), formatDateTime(order.due)]);
    if (order.resolution) facts.push([t('maintenance.resolution'), order.resolution]);
    if (!facts.length) return h('p', { class: 'muted small', text: t('maintenance.reason.manual') });
    return h('dl', { class: 'facts', 'data-testid': 'wo-reason' }, facts.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: String(v) })]));
  }

  function history(events) {
    return h('table', { class: 'table', 'data-testid': 'wo-history' },
      h('caption', { class: 'visually-hidden', text: t('maintenance.history') }),
      thead('maintenance.event', ['at', 'status', 'actor', 'note']),
      h('tbody', {}, events.map((e) => h('tr', { 'data-testid': 'wo-event', dataset: { status: e.status } },
        h('td', { class: 'nowrap', text: formatDateTime(e.at) }),
        h('td', { text: t(`maintenance.status.${e.status}`) }),
        h('td', { text: e.actor }),
        h('td', { text: e.note || '' })))));
  }

  async function fillDetail(order, cell) {
    cell.replaceChildren(h('p', { class: 'muted small', text: t('common.loading') }));
    try {
      const full = await request(`/work-orders/${order.number}`);
      cell.replaceChildren(h('div', { class: 'device-layout' },
        h('section', {}, h('h3', { class: 'section-title', text: t('maintenance.reason.title') }), reasonFacts(full)),
        h('section', {}, h('h3', { class: 'section-title', text: t('maintenance.history') }), history(full.events || []))));
    } catch (err) {
      if (err.status !== 401) cell.replaceChildren(messageBox('error', errorText(err)));
    }
  }

  /** The order's main row and detail row, built anew (its `updated_at` changed or it is new). */
  function orderRows(order) {
    const detailId = `wo-detail-${order.number}`;
    const detailCell = h('td', { colspan: WO_COLUMNS.length + 1 });
    const detail = h('tr', { id: detailId, class: 'audit-detail', hidden: true, 'data-testid': 'wo-detail', dataset: { number: order.number } }, detailCell);
    const toggle = h('button', {
      type: 'button', class: 'btn btn-icon', 'aria-expanded': 'false', 'aria-controls': detailId, 'data-testid': 'wo-toggle',
      title: t('maintenance.details'),
    }, h('span', { class: 'chevron', 'aria-hidden': 'true' }), h('span', { class: 'visually-hidden', text: t('maintenance.details') }));
    const open = (show) => {
      detail.hidden = !show;
      toggle.setAttribute('aria-expanded', String(show));
      if (show) {
        expanded.add(order.number);
        fillDetail(order, detailCell);
      } else {
        expanded.delete(order.number);
      }
    };
    toggle.addEventListener('click', () => open(detail.hidden));
    const actionCell = h('td', { 'data-testid': 'wo-actions' });
    if (canAct) actions(order, actionCell);
    const row = h('tr', {
      'data-testid': 'wo-row', dataset: { number: order.number, status: order.status, source: order.source, priority: order.priority },
    },
    h('td', { class: 'col-toggle' }, toggle),
    h('td', { class: 'mono strong nowrap', 'data-testid': 'wo-reference', text: order.reference }),
    h('td', { class: 'nowrap' }, deviceLink(order.device_id)),
    h('td', { 'data-testid': 'wo-title', text: order.title }),
    h('td', { text: t(`maintenance.source.${order.source}`) }),
    h('td', {}, badge(PRIORITY_BADGE[order.priority] || 'offline', 'wo-priority', order.priority, t(`maintenance.priority.${order.priority}`))),
    h('td', {}, badge(STATUS_BADGE[order.status] || 'offline', 'wo-status-badge', order.status, t(`maintenance.status.${order.status}`))),
    h('td', { class: 'nowrap' }, when(order.due)),
    h('td', { 'data-testid': 'wo-assignee' }, order.assignee || none()),
    h('td', { class: 'nowrap', title: order.opened_by || '' }, when(order.opened_at)),
    actionCell);
    if (expanded.has(order.number)) open(true);
    return { updatedAt: order.updated_at, nodes: [row, detail], actionCell };
  }

  async function loadOrders(signal2) {
    const page = await request('/work-orders', {
      signal: signal2, params: { limit: LIMIT, offset: state.offset, status: state.status },
    });
    learnDevices(page.items);
    const keep = new Set();
    const nodes = [];
    for (const order of page.items) {
      keep.add(order.number);
      let entry = rowsByNumber.get(order.number);
      // The same version of the order keeps its rows (and whatever is typed in them).
      if (!entry || entry.updatedAt !== order.updated_at) {
        entry = orderRows(order);
        rowsByNumber.set(order.number, entry);
      }
      nodes.push(...entry.nodes);
    }
    for (const number of [...rowsByNumber.keys()]) if (!keep.has(number)) rowsByNumber.delete(number);
    if (!nodes.length) nodes.push(emptyRow(WO_COLUMNS.length + 1, t('maintenance.empty')));
    // Moving rows that are already in place would take the focus from an input being typed in.
    const current = [...woBody.children];
    if (current.length !== nodes.length || current.some((node, i) => node !== nodes[i])) woBody.replaceChildren(...nodes);
    woFooter.replaceChildren(page.total > LIMIT || state.offset ? pager(page, (offset) => {
      state.offset = offset;
      reloadOrders();
    }) : '');
    refreshTimes(woBody);
    refreshProblem.replaceChildren();
    updated.textContent = t('common.updatedAt', { time: formatTime(new Date().toISOString()) });
  }

  // ---- models ------------------------------------------------------------------------------------
  function modelMetrics(model) {
    const lineage = model.lineage || {};
    const metrics = model.metrics || {};
    const parts = [];
    if (model.kind === 'rul') {
      if (lineage.source) parts.push(t('maintenance.models.source', { source: lineage.source }));
    } else {
      if (metrics.threshold != null) parts.push(t('maintenance.models.threshold', { value: formatNumber(metrics.threshold, 3) }));
      if (lineage.rows != null) parts.push(t('maintenance.models.rows', { rows: formatNumber(lineage.rows) }));
      if (lineage.start && lineage.end) {
        parts.push(t('maintenance.models.window', { start: formatDateTime(lineage.start), end: formatDateTime(lineage.end) }));
      }
    }
    return parts.length ? h('span', { class: 'small', 'data-testid': 'model-metrics', text: parts.join(' · ') }) : none();
  }

  function modelTarget(model) {
    const type = h('span', { class: 'mono', text: model.target_type });
    if (!model.target_device) return type;
    const name = (model.lineage && model.lineage.device_name) || deviceNames.get(model.target_device) || model.target_device;
    return h('span', {}, type, ' / ', h('a', { class: 'nowrap', href: `#/devices/${seg(model.target_device)}`, text: name }));
  }

  function modelActions(model) {
    if (!canAct) return null;
    const verbs = [];
    if (model.stage === 'candidate') verbs.push('promote');
    if (model.stage !== 'archived') verbs.push('archive');
    return verbs.flatMap((verb, i) => {
      const button = h('button', { type: 'button', class: 'btn', 'data-testid': `model-${verb}`, text: t(`maintenance.models.${verb}`) });
      button.addEventListener('click', async () => {
        button.disabled = true;
        try {
          await request(`/phm/models/${seg(model.name)}/${model.version}/${verb}`, { method: 'POST' });
          modelMessage.replaceChildren();
          reloadModels();
        } catch (err) {
          button.disabled = false;
          if (err.status !== 401) modelMessage.replaceChildren(messageBox('error', errorText(err)));
        }
      });
      return i ? [' ', button] : [button];
    });
  }

  function modelRow(model) {
    return h('tr', { 'data-testid': 'model-row', dataset: { name: model.name, version: model.version, stage: model.stage, kind: model.kind } },
      h('td', { class: 'strong nowrap', text: model.name }),
      h('td', { class: 'mono', text: `v${model.version}` }),
      h('td', { text: t(`maintenance.kind.${model.kind}`) }),
      h('td', {}, badge(STAGE_BADGE[model.stage] || 'offline', 'model-stage', model.stage, t(`maintenance.stage.${model.stage}`))),
      h('td', {}, modelTarget(model)),
      h('td', { class: 'nowrap', title: model.created_by || '' }, when(model.created_at)),
      h('td', {}, modelMetrics(model)),
      h('td', { class: 'nowrap' }, modelActions(model)));
  }

  async function loadModels(signal2) {
    const answer = await request('/phm/models', { signal: signal2 });
    modelProblem.replaceChildren();
    // Grouped by name, newest version first (the API's order; kept should it change).
    const items = [...answer.items].sort((a, b) => a.name.localeCompare(b.name) || b.version - a.version);
    modelBody.replaceChildren(...(items.length ? items.map(modelRow) : [emptyRow(MODEL_COLUMNS.length, t('maintenance.models.empty'))]));
  }

  // ---- page --------------------------------------------------------------------------------------
  outlet.append(
    pageHeader(t('maintenance.title'), updated, newButton),
    refreshProblem,
    message,
    form.element,
    h('section', { 'aria-labelledby': 'wo-heading' },
      h('h2', { id: 'wo-heading', class: 'section-title', text: t('maintenance.workOrders') }),
      h('div', { class: 'toolbar' },
        h('label', { for: 'wo-status' }, t('maintenance.filterStatus'), ' ', statusSelect),
        h('span', { class: 'muted small', text: t('devices.autoRefresh') })),
      h('div', { class: 'panel table-wrap' }, h('table', { class: 'table', 'data-testid': 'wo-table' },
        h('caption', { class: 'visually-hidden', text: t('maintenance.workOrders') }),
        thead('maintenance.col', WO_COLUMNS, true), woBody)),
      woFooter),
    h('section', { 'aria-labelledby': 'models-heading' },
      h('h2', { id: 'models-heading', class: 'section-title', text: t('maintenance.models.title') }),
      modelProblem,
      modelMessage,
      h('div', { class: 'panel table-wrap' }, h('table', { class: 'table', 'data-testid': 'model-table' },
        h('caption', { class: 'visually-hidden', text: t('maintenance.models.title') }),
        thead('maintenance.models.col', MODEL_COLUMNS), modelBody))));

  let stopOrders = () => {};
  let stopModels = () => {};
  function reloadOrders() {
    stopOrders();
    const order = expanded.size === 1 ? [...expanded][0] : '';
    replaceQuery({ status: state.status === '' ? 'all' : state.status, offset: state.offset, order });
    stopOrders = poll(loadOrders, REFRESH_MS, (err) => {
      if (err.status !== 401) refreshProblem.replaceChildren(messageBox('error', errorText(err)));
    });
  }
  function reloadModels() {
    stopModels();
    stopModels = poll(loadModels, REFRESH_MS, (err) => {
      if (err.status !== 401) modelProblem.replaceChildren(messageBox('error', errorText(err)));
    });
  }
  statusSelect.addEventListener('change', () => {
    state.status = statusSelect.value;
    state.offset = 0;
    reloadOrders();
  });
  reloadOrders();
  reloadModels();
  return () => {
    stopOrders();
    stopModels();
  };
}
