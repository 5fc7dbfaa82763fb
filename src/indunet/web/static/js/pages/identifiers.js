// Identifiers: resolve an identifier through the federation, the prefix tree with each node's
// health, the enterprise's metadata templates (list, editor, search), its identifier carriers
// (trusted management: enrol, watch, revoke), the nodes' allocation ledgers and statistics.
//
// Six tabs. The address keeps the open tab or the identifier being resolved
// (`?tab=templates`, `?handle=88.100.1/cnc-01`), so a link to a handle opens its resolution
// and Back returns to the previous one. Only the open tab polls: the tree and the statistics,
// every 5 s.

import { ApiError, request, requestWithStatus } from '../api.js';
import { emptyRow, errorText, h, messageBox, pageHeader, poll, table } from '../dom.js';
import { ledgerPanel } from './ledger_panel.js';
import { formatDateTime, formatNumber, formatTime, getLanguage, t } from '../i18n.js';
import { buildHash, replaceQuery } from '../router.js';

const REFRESH_MS = 5000;
const TABS = ['resolve', 'tree', 'templates', 'carriers', 'ledger', 'stats'];
const FIELD_TYPES = ['string', 'integer', 'number', 'boolean', 'date', 'datetime', 'url', 'handle', 'enum'];
const NUMERIC_TYPES = new Set(['integer', 'number']);
const STATS_DAYS = [1, 7, 30, 90];
const SEARCH_LIMIT = 50;
const FIELD_ERROR = /^fields\[(\d+)\]\.(\w+)/;
// The field properties the editor shows, in its column order.
const FIELD_COLUMNS = ['name', 'type', 'required', 'searchable', 'unit', 'enum', 'minimum', 'maximum'];

const seg = encodeURIComponent;
// The API takes the rest of the path as the handle, so its '/' stays a path separator.
const handlePath = (handle) => handle.split('/').map(seg).join('/');

/** The console address that resolves `handle`. */
export const resolveHref = (handle) => buildHash('/identifiers', { handle });

function labelText(label, fallback) {
  const own = label || {};
  return own[getLanguage()] || own.en || Object.values(own)[0] || fallback;
}

function none() {
  return h('span', { class: 'muted', text: t('common.none') });
}

function ms(value) {
  return value === null || value === undefined ? none() : formatNumber(value, 1);
}

/**
 * PUT a template. A 422 answer is returned rather than thrown: the editor shows its `errors`
 * ({path, message}) beside the fields.
 */
async function saveTemplate(name, spec) {
  try {
    const { body, status } = await requestWithStatus(`/identifiers/templates/${seg(name)}`, { method: 'PUT', json: spec });
    return { template: body, created: status === 201 };
  } catch (err) {
    if (err instanceof ApiError && err.status === 422 && err.errors.length) return { errors: err.errors };
    throw err;
  }
}

export async function mount(outlet, ctx) {
  let overview;
  try {
    overview = await request('/identifiers', { signal: ctx.signal });
  } catch (err) {
    if (ctx.signal.aborted) return undefined;
    outlet.replaceChildren(pageHeader(t('ids.title')), messageBox('error', errorText(err)));
    return undefined;
  }
  if (ctx.signal.aborted) return undefined;
  if (!overview.enabled) {
    outlet.replaceChildren(pageHeader(t('ids.title')),
      h('div', { 'data-testid': 'ids-disabled' }, messageBox('info', t('ids.disabled'))));
    return undefined;
  }
  const prefix = String(overview.prefix || '');

  const stops = [];
  let stopTab = () => {};
  const cleanup = () => {
    stopTab();
    for (const stop of stops) stop();
  };

  const initial = ctx.query.handle ? 'resolve' : (TABS.includes(ctx.query.tab) ? ctx.query.tab : 'resolve');
  const tabs = new Map();
  const tabList = h('div', { class: 'tabs', role: 'tablist', 'aria-label': t('ids.title') });
  const panels = h('div');
  const resolve = resolvePanel(prefix, stops);
  const sections = {
    resolve,
    tree: treePanel(),
    templates: templatesPanel(prefix),
    carriers: carriersPanel(prefix),
    ledger: ledgerPanel(),
    stats: statsPanel(),
  };
  for (const name of TABS) {
    const tab = h('button', {
      type: 'button', role: 'tab', class: 'tab', id: `ids-tab-${name}`, 'aria-controls': `ids-panel-${name}`,
      'data-testid': `ids-tab-${name}`, text: t(`ids.tab.${name}`),
    });
    tab.addEventListener('click', () => show(name));
    tab.addEventListener('keydown', (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = TABS[(TABS.indexOf(name) + step + TABS.length) % TABS.length];
      show(next);
      tabs.get(next).tab.focus();
    });
    const panel = h('section', {
      role: 'tabpanel', id: `ids-panel-${name}`, 'aria-labelledby': `ids-tab-${name}`, class: 'tab-panel',
      'data-testid': `ids-panel-${name}`, hidden: true,
    }, sections[name].el);
    tabs.set(name, { tab, panel });
    tabList.append(tab);
    panels.append(panel);
  }

  function show(name) {
    stopTab();
    stopTab = () => {};
    for (const [key, { tab, panel }] of tabs) {
      const active = key === name;
      tab.setAttribute('aria-selected', String(active));
      tab.tabIndex = active ? 0 : -1;
      panel.hidden = !active;
    }
    if (name !== 'resolve') replaceQuery({ tab: name });
    else replaceQuery({ handle: resolve.current() });
    stopTab = sections[name].start() || (() => {});
  }

  const resolver = overview.resolver
    ? h('span', {}, `${t('ids.resolver')} `, h('code', { text: overview.resolver }))
    : h('span', { class: 'muted', text: t('ids.noResolver') });
  outlet.replaceChildren(
    pageHeader(t('ids.title'),
      h('span', { class: 'muted small', 'data-testid': 'ids-prefix' }, `${t('ids.prefix')} `, h('code', { text: prefix })),
      h('span', { class: 'muted small' }, resolver)),
    tabList, panels);

  // Resolving first: the tab keeps the handle in the address.
  if (ctx.query.handle) resolve.run(ctx.query.handle);
  show(initial);
  return cleanup;
}

// ---- resolve ----------------------------------------------------------------------------------

function resolvePanel(prefix, stops) {
  const input = h('input', {
    id: 'resolve-handle', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false',
    placeholder: `${prefix}/…`, 'data-testid': 'resolve-input',
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'resolve-submit', text: t('ids.resolve.submit') });
  const result = h('div', { 'aria-live': 'polite' });
  let controller = null;
  let shown = '';
  stops.push(() => controller && controller.abort());

  const form = h('form', { class: 'toolbar', role: 'search' },
    h('label', { for: 'resolve-handle', class: 'toolbar-search' },
      h('span', { class: 'visually-hidden', text: t('ids.resolve.label') }), input),
    submit);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const handle = input.value.trim();
    if (!handle) return;
    replaceQuery({ handle });
    run(handle);
  });

  function isLocalHandle(text) {
    // Only identifiers under this enterprise's prefix are offered as links: others may need a
    // resolver the installation does not have.
    return !/\s/.test(text) && text.toLowerCase().startsWith(`${prefix.toLowerCase()}/`) && text.length > prefix.length + 1;
  }

  function valueCell(value) {
    const data = value.data || {};
    if (data.format !== 'string') {
      return h('span', {}, h('span', { class: 'tag', text: data.format || '?' }), ' ',
        h('code', { text: typeof data.value === 'string' ? data.value : JSON.stringify(data.value) }));
    }
    const text = String(data.value);
    if (isLocalHandle(text)) return h('a', { href: resolveHref(text), class: 'mono', 'data-testid': 'resolve-link', text });
    if (/^https?:\/\//i.test(text)) return h('a', { href: text, rel: 'noopener noreferrer', target: '_blank', text });
    return h('span', { class: 'mono', text });
  }

  function render(answer) {
    const body = h('tbody', {}, answer.values.length
      ? answer.values.map((value) => h('tr', { 'data-testid': 'resolve-row', dataset: { index: value.index, type: value.type } },
        h('td', { class: 'num mono', text: String(value.index) }),
        h('td', { class: 'mono strong', text: value.type }),
        h('td', { class: 'cell-value' }, valueCell(value)),
        h('td', { class: 'num mono', text: t('gateways.dur.s', { n: formatNumber(value.ttl) }) }),
        h('td', { class: 'nowrap', text: formatDateTime(value.timestamp) })))
      : [emptyRow(5, t('ids.resolve.noValues'))]);
    const via = answer.via === 'local' ? t('ids.resolve.local') : answer.via;
    result.replaceChildren(
      h('p', { class: 'resolve-meta' },
        h('code', { class: 'strong', 'data-testid': 'resolve-handle', text: answer.handle }), ' · ',
        h('span', { 'data-testid': 'resolve-via' }, t('ids.resolve.via', { via })), ' · ',
        h('span', { 'data-testid': 'resolve-elapsed' }, t('ids.resolve.elapsed', { ms: formatNumber(answer.elapsed_ms, 1) }))),
      table('resolve-table', [
        [t('ids.resolve.col.index'), 'num'], [t('ids.resolve.col.type')], [t('ids.resolve.col.value')],
        [t('ids.resolve.col.ttl'), 'num'], [t('ids.resolve.col.timestamp')],
      ], body));
  }

  async function run(handle) {
    if (controller) controller.abort();
    controller = new AbortController();
    const { signal } = controller;
    input.value = handle;
    shown = handle;
    submit.disabled = true;
    result.replaceChildren(h('p', { class: 'muted', role: 'status', text: t('ids.resolve.resolving', { handle }) }));
    try {
      const answer = await request(`/identifiers/resolve/${handlePath(handle)}`, { signal });
      render(answer);
    } catch (err) {
      if (err.name === 'AbortError' || err.status === 401) return;
      const text = err.status === 404 ? t('ids.resolve.notFound', { handle }) : errorText(err);
      result.replaceChildren(h('div', { 'data-testid': 'resolve-error' }, messageBox('error', h('span', {},
        h('strong', { text }), err.status === 404 && err.detail ? h('span', { class: 'small' }, ' ', err.detail) : null))));
    } finally {
      if (!signal.aborted) submit.disabled = false;
    }
  }

  const el = h('div', {},
    h('p', { class: 'muted small', text: t('ids.resolve.help', { prefix }) }),
    form, result);
  return { el, run, current: () => shown, start: () => { input.focus(); } };
}

// ---- prefix tree ------------------------------------------------------------------------------

/** Nodes under their parent: the node whose prefix is the longest proper dot-prefix of its own. */
export function prefixTree(nodes) {
  const byPrefix = (a, b) => a.prefix.localeCompare(b.prefix, 'en', { numeric: true }) || a.name.localeCompare(b.name);
  const placed = nodes.filter((n) => n.role !== 'recursive').sort(byPrefix);
  const children = new Map(placed.map((n) => [n, []]));
  const roots = [];
  for (const node of placed) {
    const own = node.prefix.toLowerCase();
    let parent = null;
    for (const other of placed) {
      const theirs = other.prefix.toLowerCase();
      if (other === node || !theirs || !own.startsWith(`${theirs}.`)) continue;
      if (!parent || theirs.length > parent.prefix.length) parent = other;
    }
    if (parent) children.get(parent).push(node);
    else roots.push(node);
  }
  return { roots, children, recursive: nodes.filter((n) => n.role === 'recursive') };
}

function nodeItem(node) {
  return h('div', { class: 'tree-node', 'data-testid': 'tree-node', dataset: { name: node.name, role: node.role, up: String(Boolean(node.up)) } },
    h('span', { class: 'tag', text: t(`ids.role.${node.role}`) }),
    h('span', { class: 'strong', text: node.name }),
    node.prefix ? h('code', { text: node.prefix }) : null,
    h('span', { class: 'muted mono small', text: node.address }),
    h('span', { class: `badge badge-${node.up ? 'online' : 'danger'}`, 'data-testid': 'node-status' },
      h('span', { class: 'badge-dot', 'aria-hidden': 'true' }), t(node.up ? 'ids.tree.up' : 'ids.tree.down')),
    h('span', { class: 'mono small', 'data-testid': 'node-rtt' },
      node.rtt_ms === null || node.rtt_ms === undefined ? '' : t('ids.tree.rtt', { ms: formatNumber(node.rtt_ms, 1) })));
}

function treePanel() {
  const updated = h('span', { class: 'muted small', 'aria-live': 'off', 'data-testid': 'tree-updated' });
  const message = h('div');
  const body = h('div', { class: 'tree-layout' }, h('p', { class: 'muted', text: t('common.loading') }));

  function branch(node, children) {
    const kids = children.get(node);
    return h('li', {}, nodeItem(node), kids.length ? h('ul', {}, kids.map((kid) => branch(kid, children))) : null);
  }

  async function load(signal) {
    const nodes = await request('/identifiers/nodes', { signal });
    message.replaceChildren();
    updated.textContent = t('common.updatedAt', { time: formatTime(new Date().toISOString()) });
    if (!nodes.length) {
      body.replaceChildren(h('div', { 'data-testid': 'tree-empty' }, messageBox('info', t('ids.tree.empty'))));
      return;
    }
    const { roots, children, recursive } = prefixTree(nodes);
    body.replaceChildren(
      h('section', { class: 'panel', 'aria-labelledby': 'tree-title' },
        h('h2', { id: 'tree-title', class: 'panel-title', text: t('ids.tree.hierarchy') }),
        roots.length
          ? h('ul', { class: 'tree', 'data-testid': 'prefix-tree' }, roots.map((root) => branch(root, children)))
          : h('p', { class: 'muted tree-none', text: t('ids.tree.noHierarchy') })),
      h('section', { class: 'panel', 'aria-labelledby': 'recursive-title' },
        h('h2', { id: 'recursive-title', class: 'panel-title', text: t('ids.tree.recursive') }),
        recursive.length
          ? h('ul', { class: 'tree tree-flat', 'data-testid': 'recursive-nodes' }, recursive.map((n) => h('li', {}, nodeItem(n))))
          : h('p', { class: 'muted tree-none', text: t('ids.tree.noRecursive') })));
  }

  const el = h('div', {},
    h('div', { class: 'toolbar' }, h('span', { class: 'muted small', text: t('devices.autoRefresh') }), updated),
    message, body);
  return {
    el,
    start: () => poll(load, REFRESH_MS, (err) => {
      if (err.status !== 401) message.replaceChildren(messageBox('error', errorText(err)));
    }),
  };
}

// ---- carriers -----------------------------------------------------------------------------------

const CARRIER_STATUS = { active: 'badge-online', revoked: 'badge-danger' };

function carriersPanel(prefix) {
  const message = h('div');
  const updated = h('span', { class: 'muted small', 'aria-live': 'off' });
  const rows = h('tbody', {}, emptyRow(7, t('common.loading')));
  const handle = h('input', {
    id: 'carrier-handle', type: 'text', required: true, maxlength: 255, placeholder: `${prefix}/…`,
    'data-testid': 'carrier-handle', autocomplete: 'off', spellcheck: false,
  });
  const key = h('textarea', {
    id: 'carrier-key', rows: 4, required: true, placeholder: '-----BEGIN PUBLIC KEY-----',
    'data-testid': 'carrier-key', spellcheck: false, class: 'mono',
  });
  const enrolMessage = h('div', { 'aria-live': 'polite' });
  let refresh = () => {};

  async function revoke(carrier) {
    const reason = window.prompt(t('ids.carriers.revokeReason', { handle: carrier.handle }));
    if (reason === null) return;
    try {
      await request(`/identifiers/carriers/${handlePath(carrier.handle)}/revoke`, { method: 'POST', json: { reason } });
      refresh();
    } catch (err) {
      message.replaceChildren(messageBox('error', errorText(err)));
    }
  }

  function row(c) {
    const seen = c.lastSeq > 0 ? formatDateTime(new Date(c.lastAtMs).toISOString()) : null;
    return h('tr', { 'data-testid': 'carrier-row', dataset: { handle: c.handle, status: c.status } },
      h('td', {}, h('a', { href: resolveHref(c.handle), class: 'mono', text: c.handle })),
      h('td', { class: 'mono small', title: c.bid, text: `${c.bid.slice(0, 18)}…` }),
      h('td', {}, h('span', { class: `badge ${CARRIER_STATUS[c.status] || ''}`, 'data-testid': 'carrier-status', text: t(`ids.carriers.status.${c.status}`) })),
      h('td', { class: 'num mono', text: formatNumber(c.serial) }),
      h('td', { class: 'num mono', 'data-testid': 'carrier-seq', text: formatNumber(c.lastSeq) }),
      h('td', { class: 'nowrap' }, seen ? h('span', { text: seen }) : none()),
      h('td', {}, c.status === 'active'
        ? h('button', { type: 'button', class: 'btn', 'data-testid': 'carrier-revoke', onclick: () => revoke(c), text: t('ids.carriers.revoke') })
        : h('span', { class: 'muted small', title: c.reason, text: c.reason || '' })));
  }

  async function load(signal) {
    const carriers = await request('/identifiers/carriers', { signal });
    message.replaceChildren();
    updated.textContent = t('common.updatedAt', { time: formatTime(new Date().toISOString()) });
    rows.replaceChildren(...(carriers.length ? carriers.map(row) : [emptyRow(7, t('ids.carriers.none'))]));
  }

  const form = h('form', { class: 'panel form', 'data-testid': 'carrier-enrol', novalidate: true },
    h('h2', { class: 'panel-title', text: t('ids.carriers.enrol') }),
    h('p', { class: 'muted small', text: t('ids.carriers.enrolHelp') }),
    h('label', { for: 'carrier-handle', text: t('ids.carriers.handle') }), handle,
    h('label', { for: 'carrier-key', text: t('ids.carriers.key') }), key,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'carrier-enrol-submit', text: t('ids.carriers.enrolButton') })),
    enrolMessage);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!handle.value.trim() || !key.value.trim()) {
      enrolMessage.replaceChildren(messageBox('error', t('ids.carriers.missing')));
      return;
    }
    try {
      await request(`/identifiers/carriers/${handlePath(handle.value.trim())}/enroll`, { method: 'POST', json: { publicKey: key.value.trim() } });
      enrolMessage.replaceChildren(messageBox('info', t('ids.carriers.enrolled', { handle: handle.value.trim() })));
      key.value = '';
      refresh();
    } catch (err) {
      enrolMessage.replaceChildren(messageBox('error', errorText(err)));
    }
  });

  const el = h('div', {},
    h('div', { class: 'toolbar' }, h('span', { class: 'muted small', text: t('devices.autoRefresh') }), updated),
    message,
    table('carriers', [
      [t('ids.carriers.col.handle')], [t('ids.carriers.col.bid')], [t('ids.carriers.col.status')],
      [t('ids.carriers.col.serial'), 'num'], [t('ids.carriers.col.seq'), 'num'], [t('ids.carriers.col.seen')], [''],
    ], rows),
    form);
  return {
    el,
    start: () => {
      const onError = (err) => {
        if (err.status !== 401) message.replaceChildren(messageBox('error', errorText(err)));
      };
      let stop = poll(load, REFRESH_MS, onError);
      refresh = () => {
        stop();
        stop = poll(load, REFRESH_MS, onError);
      };
      return () => stop();
    },
  };
}

// ---- templates --------------------------------------------------------------------------------

function templatesPanel(prefix) {
  const message = h('div');
  const listBody = h('tbody', {}, emptyRow(6, t('common.loading')));
  let templates = [];
  const editor = templateEditor(() => loadList());
  const search = templateSearch();

  function row(template) {
    const edit = h('button', { type: 'button', class: 'btn', 'data-testid': 'template-edit', text: t('ids.tpl.edit') });
    edit.addEventListener('click', () => editor.open(template));
    return h('tr', { 'data-testid': 'template-row', dataset: { name: template.name, version: template.version } },
      h('td', { class: 'mono strong', text: template.name }),
      h('td', { class: 'num mono', 'data-testid': 'template-version', text: String(template.version) }),
      h('td', { text: labelText(template.label, '') }),
      h('td', { class: 'num mono', text: formatNumber(template.fields.length) }),
      h('td', { class: 'num mono', 'data-testid': 'template-count', text: formatNumber(template.identifiers || 0) }),
      h('td', {}, edit));
  }

  async function loadList() {
    try {
      templates = await request('/identifiers/templates');
    } catch (err) {
      if (err.status !== 401) message.replaceChildren(messageBox('error', errorText(err)));
      return;
    }
    message.replaceChildren();
    listBody.replaceChildren(...(templates.length ? templates.map(row) : [emptyRow(6, t('ids.tpl.empty'))]));
    search.setTemplates(templates);
  }

  const create = h('button', { type: 'button', class: 'btn', 'data-testid': 'template-new', text: t('ids.tpl.new') });
  create.addEventListener('click', () => editor.open(null));
  const el = h('div', {},
    message,
    h('div', { class: 'toolbar' }, h('h2', { class: 'section-title flush', text: t('ids.tpl.list') }), create),
    table('template-table', [
      [t('ids.tpl.col.template')], [t('ids.tpl.col.version'), 'num'], [t('ids.tpl.col.label')],
      [t('ids.tpl.col.fields'), 'num'], [t('ids.tpl.col.identifiers'), 'num'], [t('ids.tpl.col.actions')],
    ], listBody),
    editor.el,
    search.el,
    h('p', { class: 'muted small', text: t('ids.tpl.prefixNote', { prefix }) }));
  return { el, start: () => { loadList(); } };
}

function templateEditor(onSaved) {
  const nameInput = h('input', { id: 'tpl-name', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', 'data-testid': 'tpl-name' });
  const labelEn = h('input', { id: 'tpl-label-en', type: 'text', lang: 'en', 'data-testid': 'tpl-label-en' });
  const labelZh = h('input', { id: 'tpl-label-zh', type: 'text', lang: 'zh-CN', 'data-testid': 'tpl-label-zh' });
  const description = h('input', { id: 'tpl-description', type: 'text', 'data-testid': 'tpl-description' });
  const title = h('h2', { class: 'panel-title', id: 'tpl-editor-title' });
  const rowsBody = h('tbody');
  const errors = h('div', { 'aria-live': 'polite' });
  const status = h('div', { 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'tpl-save', text: t('ids.tpl.save') });
  const addField = h('button', { type: 'button', class: 'btn', 'data-testid': 'tpl-add-field', text: t('ids.tpl.addField') });
  let rows = [];

  function fieldRow(original = {}) {
    const n = rows.length;
    const input = (key, attrs) => h('input', { 'aria-label': t(`ids.tpl.col.${key}`), 'data-field': key, ...attrs });
    const inputs = {
      name: input('name', { type: 'text', value: original.name || '', autocomplete: 'off', spellcheck: 'false', 'data-testid': 'field-name' }),
      type: h('select', { 'aria-label': t('ids.tpl.col.type'), 'data-field': 'type', 'data-testid': 'field-type' },
        FIELD_TYPES.map((type) => h('option', { value: type, selected: type === (original.type || 'string'), text: t(`ids.type.${type}`) }))),
      required: input('required', { type: 'checkbox', checked: Boolean(original.required), 'data-testid': 'field-required' }),
      searchable: input('searchable', { type: 'checkbox', checked: Boolean(original.searchable), 'data-testid': 'field-searchable' }),
      unit: input('unit', { type: 'text', value: original.unit || '', class: 'input-short', 'data-testid': 'field-unit' }),
      enum: input('enum', { type: 'text', value: (original.enum || []).join(', '), placeholder: t('ids.tpl.enumHint'), 'data-testid': 'field-enum' }),
      minimum: input('minimum', { type: 'number', step: 'any', value: original.minimum ?? '', class: 'input-short', 'data-testid': 'field-minimum' }),
      maximum: input('maximum', { type: 'number', step: 'any', value: original.maximum ?? '', class: 'input-short', 'data-testid': 'field-maximum' }),
    };
    const remove = h('button', {
      type: 'button', class: 'btn btn-icon', 'aria-label': t('ids.tpl.removeField'), title: t('ids.tpl.removeField'),
      'data-testid': 'field-remove', text: '×',
    });
    const tr = h('tr', { 'data-testid': 'field-row' },
      h('td', { class: 'num muted', text: String(n + 1) }),
      ...FIELD_COLUMNS.map((key) => h('td', {}, inputs[key])),
      h('td', {}, remove));
    const entry = { original, inputs, tr };
    const typeChanged = () => {
      const type = inputs.type.value;
      inputs.enum.hidden = type !== 'enum';
      inputs.minimum.disabled = !NUMERIC_TYPES.has(type);
      inputs.maximum.disabled = !NUMERIC_TYPES.has(type);
    };
    inputs.type.addEventListener('change', typeChanged);
    typeChanged();
    remove.addEventListener('click', () => {
      rows = rows.filter((r) => r !== entry);
      renderRows();
    });
    return entry;
  }

  function renderRows() {
    rows.forEach((r, i) => { r.tr.firstChild.textContent = String(i + 1); });
    rowsBody.replaceChildren(...(rows.length ? rows.map((r) => r.tr) : [emptyRow(10, t('ids.tpl.noFields'))]));
  }

  function fieldSpec({ original, inputs }) {
    // Properties the editor does not show (labels, maxLength, pattern) are kept as they were, so
    // saving an unchanged form does not make a new version.
    const spec = { ...original };
    for (const key of FIELD_COLUMNS) delete spec[key];
    const type = inputs.type.value;
    Object.assign(spec, {
      name: inputs.name.value.trim(), type, required: inputs.required.checked, searchable: inputs.searchable.checked,
    });
    const unit = inputs.unit.value.trim();
    if (unit) spec.unit = unit;
    if (type === 'enum') spec.enum = inputs.enum.value.split(',').map((v) => v.trim()).filter(Boolean);
    if (NUMERIC_TYPES.has(type)) {
      for (const key of ['minimum', 'maximum']) {
        if (inputs[key].value !== '') spec[key] = Number(inputs[key].value);
      }
    }
    return spec;
  }

  function spec() {
    const label = {};
    if (labelEn.value.trim()) label.en = labelEn.value.trim();
    if (labelZh.value.trim()) label['zh-CN'] = labelZh.value.trim();
    const out = { fields: rows.map(fieldSpec) };
    if (Object.keys(label).length) out.label = label;
    if (description.value.trim()) out.description = description.value.trim();
    return out;
  }

  function clearErrors() {
    errors.replaceChildren();
    for (const el of form.querySelectorAll('[aria-invalid]')) {
      el.removeAttribute('aria-invalid');
      el.removeAttribute('title');
    }
  }

  function showErrors(list) {
    const items = list.map(({ path, message }) => {
      const at = FIELD_ERROR.exec(path || '');
      let where = path || t('ids.tpl.title');
      let target = { name: nameInput, description, label: labelEn }[path] || null;
      if (at) {
        const row = rows[Number(at[1])];
        const key = at[2];
        where = t('ids.tpl.errorAt', { n: Number(at[1]) + 1, key: row && row.inputs[key] ? t(`ids.tpl.col.${key}`) : key });
        target = row ? row.inputs[key] || row.inputs.name : null;
      }
      if (target) {
        target.setAttribute('aria-invalid', 'true');
        target.title = message;
      }
      return h('li', { 'data-testid': 'tpl-error', dataset: { path: path || '' } }, h('strong', { text: where }), ` ${message}`);
    });
    errors.replaceChildren(h('div', { class: 'message message-error', role: 'alert', 'data-testid': 'tpl-errors' },
      h('p', { class: 'flush', text: t('ids.tpl.invalid') }), h('ul', { class: 'error-list' }, items)));
  }

  function open(template, keepStatus = false) {
    nameInput.value = template ? template.name : '';
    nameInput.readOnly = Boolean(template);
    labelEn.value = (template && template.label && template.label.en) || '';
    labelZh.value = (template && template.label && template.label['zh-CN']) || '';
    description.value = (template && template.description) || '';
    title.textContent = template ? t('ids.tpl.editing', { name: template.name, version: template.version }) : t('ids.tpl.creating');
    rows = [];
    for (const field of template ? template.fields : [{}]) rows.push(fieldRow(field));
    renderRows();
    clearErrors();
    if (!keepStatus) status.replaceChildren();
    el.hidden = false;
    (template ? labelEn : nameInput).focus();
  }

  addField.addEventListener('click', () => {
    rows.push(fieldRow({}));
    renderRows();
    rows[rows.length - 1].inputs.name.focus();
  });

  const form = h('form', { class: 'editor', novalidate: true, 'data-testid': 'template-editor' },
    errors,
    h('div', { class: 'form-grid' },
      h('label', { class: 'field', for: 'tpl-name' }, h('span', { text: t('ids.tpl.name') }), nameInput),
      h('label', { class: 'field', for: 'tpl-label-en' }, h('span', { text: t('ids.tpl.labelEn') }), labelEn),
      h('label', { class: 'field', for: 'tpl-label-zh' }, h('span', { text: t('ids.tpl.labelZh') }), labelZh),
      h('label', { class: 'field', for: 'tpl-description' }, h('span', { text: t('ids.tpl.description') }), description)),
    h('div', { class: 'table-wrap' }, h('table', { class: 'table table-form', 'data-testid': 'field-table' },
      h('caption', { class: 'visually-hidden', text: t('ids.tpl.fields') }),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', class: 'num', text: '#' }),
        FIELD_COLUMNS.map((key) => h('th', { scope: 'col', text: t(`ids.tpl.col.${key}`) })),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden', text: t('ids.tpl.col.actions') })))),
      rowsBody)),
    h('div', { class: 'toolbar editor-actions' }, addField, save, status));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors();
    status.replaceChildren();
    const name = nameInput.value.trim();
    if (!name) {
      showErrors([{ path: 'name', message: t('ids.tpl.nameRequired') }]);
      return;
    }
    save.disabled = true;
    try {
      const answer = await saveTemplate(name, spec());
      if (answer.errors) {
        showErrors(answer.errors);
        return;
      }
      const { template, created } = answer;
      open(template, true);
      status.replaceChildren(h('span', {
        class: `badge badge-${created ? 'online' : 'offline'}`, role: 'status', 'data-testid': 'tpl-saved',
        dataset: { version: template.version, created: String(created) },
      }, created ? t('ids.tpl.savedVersion', { version: template.version }) : t('ids.tpl.unchanged', { version: template.version })));
      onSaved();
    } catch (err) {
      if (err.status !== 401) errors.replaceChildren(messageBox('error', errorText(err)));
    } finally {
      save.disabled = false;
    }
  });

  const el = h('section', { class: 'panel editor-panel', 'aria-labelledby': 'tpl-editor-title', hidden: true }, title, form);
  return { el, open };
}

function templateSearch() {
  const templateSelect = h('select', { id: 'search-template', 'data-testid': 'search-template' });
  const fieldSelect = h('select', { id: 'search-field', 'data-testid': 'search-field' });
  const value = h('input', { id: 'search-value', type: 'text', autocomplete: 'off', 'data-testid': 'search-value' });
  const startsWith = h('input', { id: 'search-prefix', type: 'checkbox', 'data-testid': 'search-prefix' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'search-submit', text: t('ids.search.submit') });
  const results = h('div', { 'aria-live': 'polite' });
  let templates = [];

  function fillFields() {
    const chosen = templates.find((tpl) => tpl.name === templateSelect.value);
    const fields = chosen ? chosen.fields.filter((f) => f.searchable) : [];
    const before = fieldSelect.value;
    fieldSelect.replaceChildren(...fields.map((f) => h('option', { value: f.name, selected: f.name === before, text: `${labelText(f.label, f.name)} (${f.name})` })));
    fieldSelect.disabled = !fields.length;
    submit.disabled = !fields.length;
  }

  function setTemplates(list) {
    templates = list;
    const before = templateSelect.value;
    templateSelect.replaceChildren(...list.map((tpl) => h('option', { value: tpl.name, selected: tpl.name === before, text: `${labelText(tpl.label, tpl.name)} (${tpl.name})` })));
    fillFields();
  }
  templateSelect.addEventListener('change', () => {
    fillFields();
    results.replaceChildren();
  });

  async function run(after, list) {
    const field = fieldSelect.value;
    const params = { template: templateSelect.value, limit: SEARCH_LIMIT, after };
    params[`${startsWith.checked ? 'prefix' : 'field'}.${field}`] = value.value.trim();
    submit.disabled = true;
    try {
      const answer = await request('/identifiers/search', { params });
      const items = list || h('ul', { class: 'result-list', 'data-testid': 'search-results' });
      items.append(...answer.handles.map((handle) => h('li', {},
        h('a', { href: resolveHref(handle), class: 'mono', 'data-testid': 'search-result', text: handle }))));
      const more = answer.next
        ? h('button', { type: 'button', class: 'btn', 'data-testid': 'search-more', text: t('ids.search.more') })
        : null;
      if (more) more.addEventListener('click', () => run(answer.next, items));
      results.replaceChildren(...(items.childElementCount
        ? [items, more]
        : [h('p', { class: 'muted', 'data-testid': 'search-empty', text: t('ids.search.empty') })]));
    } catch (err) {
      if (err.status !== 401) results.replaceChildren(messageBox('error', errorText(err)));
    } finally {
      submit.disabled = !fieldSelect.value;
    }
  }

  const form = h('form', { class: 'toolbar', role: 'search', 'data-testid': 'template-search' },
    h('label', { for: 'search-template' }, t('ids.search.template'), ' ', templateSelect),
    h('label', { for: 'search-field' }, t('ids.search.field'), ' ', fieldSelect),
    h('label', { for: 'search-value' }, h('span', { class: 'visually-hidden', text: t('ids.search.value') }), value),
    h('label', { for: 'search-prefix', class: 'check' }, startsWith, ' ', t('ids.search.startsWith')),
    submit);
  value.placeholder = t('ids.search.value');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (fieldSelect.value) run('', null);
  });

  const el = h('section', { 'aria-labelledby': 'search-title' },
    h('h2', { id: 'search-title', class: 'section-title', text: t('ids.search.title') }), form, results);
  return { el, setTemplates };
}

// ---- statistics -------------------------------------------------------------------------------

function statsPanel() {
  const days = h('select', { id: 'stats-days', 'data-testid': 'stats-days' },
    STATS_DAYS.map((n) => h('option', { value: String(n), selected: n === 7, text: t('ids.stats.days', { n }) })));
  const message = h('div');
  const since = h('span', { class: 'muted small', 'data-testid': 'stats-since' });
  const registered = h('tbody', {}, emptyRow(2, t('common.loading')));
  const resolution = h('tbody', {}, emptyRow(7, t('common.loading')));
  let stop = null;

  async function load(signal) {
    const stats = await request('/identifiers/stats', { signal, params: { days: days.value } });
    message.replaceChildren();
    since.textContent = t('ids.stats.since', { date: stats.since });
    const counts = Object.entries(stats.registered || {}).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
    registered.replaceChildren(...(counts.length
      ? counts.map(([prefix, n]) => h('tr', { 'data-testid': 'stats-registered-row', dataset: { prefix } },
        h('td', { class: 'mono', text: prefix }),
        h('td', { class: 'num mono', 'data-testid': 'stats-registered-count', text: formatNumber(n) })))
      : [emptyRow(2, t('ids.stats.noIdentifiers'))]));
    const rows = stats.resolution || [];
    resolution.replaceChildren(...(rows.length
      ? rows.map((r) => h('tr', { 'data-testid': 'stats-resolution-row', dataset: { day: r.day, prefix: r.prefix } },
        h('td', { class: 'mono nowrap', text: r.day }),
        h('td', { class: 'mono', text: r.prefix }),
        h('td', { class: 'num mono', text: formatNumber(r.count) }),
        h('td', { class: `num mono${r.errors > 0 ? ' text-danger' : ''}`, text: formatNumber(r.errors) }),
        h('td', { class: 'num mono' }, ms(r.p50_ms)),
        h('td', { class: 'num mono' }, ms(r.p90_ms)),
        h('td', { class: 'num mono' }, ms(r.p99_ms))))
      : [emptyRow(7, t('ids.stats.noResolutions'))]));
  }

  const begin = () => poll(load, REFRESH_MS, (err) => {
    if (err.status !== 401) message.replaceChildren(messageBox('error', errorText(err)));
  });
  function start() {
    stop = begin();
    return () => {
      stop();
      stop = null;
    };
  }
  days.addEventListener('change', () => {
    if (!stop) return;
    stop();
    stop = begin();
  });

  const el = h('div', {},
    h('div', { class: 'toolbar' },
      h('label', { for: 'stats-days' }, t('ids.stats.period'), ' ', days), since,
      h('span', { class: 'muted small', text: t('devices.autoRefresh') })),
    message,
    h('h2', { class: 'section-title', text: t('ids.stats.registered') }),
    table('stats-registered', [[t('ids.stats.col.prefix')], [t('ids.stats.col.identifiers'), 'num']], registered),
    h('h2', { class: 'section-title', text: t('ids.stats.resolution') }),
    table('stats-resolution', [
      [t('ids.stats.col.day')], [t('ids.stats.col.prefix')], [t('ids.stats.col.count'), 'num'],
      [t('ids.stats.col.errors'), 'num'], [t('ids.stats.col.p50'), 'num'], [t('ids.stats.col.p90'), 'num'],
      [t('ids.stats.col.p99'), 'num'],
    ], resolution));
  return { el, start };
}
