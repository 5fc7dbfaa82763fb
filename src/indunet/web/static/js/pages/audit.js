// Audit log: paginated table; each entry expands into a field-by-field diff
// of its `before` and `after` JSON (nested objects flattened to dotted keys).

import { api } from '../api.js';
import { errorText, h, messageBox, pageHeader, pager, relativeTime } from '../dom.js';
import { formatDateTime, t, tOr } from '../i18n.js';
import { replaceQuery } from '../router.js';

const LIMIT = 50;

/** {a: {b: 1}, c: [1]} -> Map {"a.b" => 1, "c" => [1]}; a non-object becomes the single key "". */
export function flatten(value, prefix = '', out = new Map()) {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (!keys.length && prefix) out.set(prefix, {});
    for (const key of keys) flatten(value[key], prefix ? `${prefix}.${key}` : key, out);
  } else if (value !== undefined) {
    out.set(prefix, value);
  }
  return out;
}

/** Rows {key, kind: added|removed|changed|same, before, after}, sorted by key. */
export function diff(before, after) {
  const a = before == null ? new Map() : flatten(before);
  const b = after == null ? new Map() : flatten(after);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.map((key) => {
    const inA = a.has(key);
    const inB = b.has(key);
    let kind = 'same';
    if (!inA) kind = 'added';
    else if (!inB) kind = 'removed';
    else if (JSON.stringify(a.get(key)) !== JSON.stringify(b.get(key))) kind = 'changed';
    return { key, kind, before: a.get(key), after: b.get(key) };
  });
}

function json(value) {
  if (value === undefined) return '';
  return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value, null, 0);
}

function diffTable(entry) {
  const rows = diff(entry.before, entry.after);
  if (!rows.length) return h('p', { class: 'muted small', text: t('audit.noChanges') });
  const changed = rows.filter((r) => r.kind !== 'same').length;
  return h('div', { class: 'diff' },
    h('p', { class: 'muted small', text: t('audit.summary', { changed, total: rows.length }) }),
    h('table', { class: 'table table-diff' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: t('audit.field') }),
        h('th', { scope: 'col', text: t('audit.before') }),
        h('th', { scope: 'col', text: t('audit.after') }))),
      h('tbody', {}, rows.map((r) => h('tr', { class: `diff-${r.kind}`, dataset: { kind: r.kind } },
        h('th', { scope: 'row', class: 'mono' },
          r.key || t('audit.value'),
          r.kind === 'same' ? null : h('span', { class: `diff-tag diff-tag-${r.kind}`, text: t(`audit.kind.${r.kind}`) })),
        h('td', { class: 'mono diff-before', text: json(r.before) }),
        h('td', { class: 'mono diff-after', text: json(r.after) }))))));
}

export function mount(outlet, { query }) {
  const state = { offset: Math.max(0, Number(query.offset) || 0) };
  const message = h('div');
  const body = h('tbody');
  const footer = h('div', { class: 'table-footer' });
  const table = h('table', { class: 'table table-audit', 'data-testid': 'audit-table' },
    h('caption', { class: 'visually-hidden', text: t('audit.title') }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'col-toggle' }, h('span', { class: 'visually-hidden', text: t('audit.col.changes') })),
      h('th', { scope: 'col', text: t('audit.col.at') }),
      h('th', { scope: 'col', text: t('audit.col.actor') }),
      h('th', { scope: 'col', text: t('audit.col.action') }),
      h('th', { scope: 'col', text: t('audit.col.entity') }),
      h('th', { scope: 'col', text: t('audit.col.entityId') }))),
    body);

  outlet.append(pageHeader(t('audit.title')), message, h('div', { class: 'panel table-wrap' }, table), footer);

  function entryRows(entry) {
    const detailId = `audit-detail-${entry.id}`;
    const detailCell = h('td', { colspan: 6 });
    const detail = h('tr', { id: detailId, class: 'audit-detail', hidden: true, 'data-testid': 'audit-detail' }, detailCell);
    const toggle = h('button', {
      type: 'button', class: 'btn btn-icon', 'aria-expanded': 'false', 'aria-controls': detailId,
      title: t('audit.show'), 'data-testid': 'audit-toggle',
    }, h('span', { class: 'chevron', 'aria-hidden': 'true' }), h('span', { class: 'visually-hidden', text: t('audit.show') }));
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      if (open && !detailCell.firstChild) detailCell.append(diffTable(entry));
      detail.hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
      const label = t(open ? 'audit.hide' : 'audit.show');
      toggle.title = label;
      toggle.lastChild.textContent = label;
    });
    const entity = entry.entity === 'device' && entry.entity_id
      ? h('a', { href: `#/devices/${encodeURIComponent(entry.entity_id)}`, class: 'mono', text: entry.entity_id })
      : h('span', { class: 'mono', text: entry.entity_id ?? t('common.none') });
    const at = relativeTime(entry.at);
    return [
      h('tr', { 'data-testid': 'audit-row', dataset: { id: entry.id } },
        h('td', { class: 'col-toggle' }, toggle),
        h('td', { class: 'nowrap', title: '' }, h('span', { text: formatDateTime(entry.at) }), ' ', h('span', { class: 'muted small' }, at)),
        h('td', { text: entry.actor ?? t('common.none') }),
        h('td', {}, h('span', { class: 'tag', text: tOr(`audit.action.${entry.action}`, entry.action) })),
        h('td', { text: tOr(`entity.${entry.entity}`, entry.entity) }),
        h('td', {}, entity)),
      detail,
    ];
  }

  async function load() {
    replaceQuery({ offset: state.offset });
    table.setAttribute('aria-busy', 'true');
    try {
      const page = await api.audit({ limit: LIMIT, offset: state.offset });
      message.replaceChildren();
      body.replaceChildren(...(page.items.length
        ? page.items.flatMap(entryRows)
        : [h('tr', {}, h('td', { colspan: 6, class: 'empty', text: t('audit.empty') }))]));
      footer.replaceChildren(pager(page, (offset) => {
        state.offset = offset;
        load();
      }));
    } catch (err) {
      if (err.status !== 401) message.replaceChildren(messageBox('error', errorText(err)));
    } finally {
      table.setAttribute('aria-busy', 'false');
    }
  }

  body.replaceChildren(h('tr', {}, h('td', { colspan: 6, class: 'empty', text: t('common.loading') })));
  load();
}
