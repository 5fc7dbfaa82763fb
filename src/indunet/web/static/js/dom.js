// Small DOM helpers shared by the pages. Text always goes in through
// textContent (never innerHTML), so API data cannot inject markup.

import { formatDateTime, formatNumber, formatRelative, t } from './i18n.js';

/**
 * h('a', {href: '#/x', class: 'link', dataset: {id: 1}, onclick: fn}, 'text', child)
 * Attributes set to null/undefined/false are skipped; `true` sets an empty attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Page title bar: <h1> plus optional actions on the right. */
export function pageHeader(title, ...actions) {
  document.title = `${title} · indunet`;
  return h('div', { class: 'page-header' }, h('h1', { text: title }), h('div', { class: 'page-actions' }, actions));
}

export function statusBadge(status) {
  const known = status === 'online' || status === 'offline';
  const key = known ? status : 'unknown';
  return h('span', { class: `badge badge-${key}`, dataset: { status: status || 'unknown' } },
    h('span', { class: 'badge-dot', 'aria-hidden': 'true' }),
    known ? t(`status.${status}`) : (status || t('status.unknown')));
}

export function labelChips(labels) {
  const entries = Object.entries(labels || {});
  if (!entries.length) return h('span', { class: 'muted', text: t('common.none') });
  return h('ul', { class: 'chips' }, entries.map(([k, v]) => h('li', { class: 'chip' },
    h('span', { class: 'chip-key', text: k }), h('span', { class: 'chip-value', text: String(v) }))));
}

/** <time> showing a relative time, absolute time as tooltip; refreshed by `refreshTimes()`. */
export function relativeTime(value) {
  if (!value) return h('span', { class: 'muted', text: t('common.never') });
  return h('time', { datetime: value, title: formatDateTime(value), dataset: { relative: '' } }, formatRelative(value));
}

export function refreshTimes(root) {
  for (const el of root.querySelectorAll('time[data-relative]')) el.textContent = formatRelative(el.getAttribute('datetime'));
}

/** Error / info box. `error` may be an ApiError: its `detail` is shown. */
export function messageBox(kind, text) {
  return h('div', { class: `message message-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

export function errorText(error) {
  if (!error) return t('common.error');
  if (error.isNetwork) return t('common.networkError');
  if (error.status === 403) return error.detail || t('common.forbidden');
  return error.detail || error.title || error.message || t('common.error');
}

/**
 * Pagination bar for {total, limit, offset}. `onChange(offset)` is called by
 * the Previous / Next buttons.
 */
export function pager({ total, limit, offset }, onChange) {
  const from = total === 0 ? 0 : offset + 1;
  const to = Math.min(offset + limit, total);
  const pages = Math.max(1, Math.ceil(total / limit));
  const page = Math.floor(offset / limit) + 1;
  return h('nav', { class: 'pager', 'aria-label': t('common.pagination') },
    h('span', { class: 'pager-info', 'aria-live': 'polite' },
      t('common.range', { from: formatNumber(from), to: formatNumber(to), total: formatNumber(total) })),
    h('span', { class: 'pager-page' }, t('common.page', { page: formatNumber(page), pages: formatNumber(pages) })),
    h('button', {
      type: 'button', class: 'btn', disabled: offset <= 0, 'data-testid': 'pager-prev',
      onclick: () => onChange(Math.max(0, offset - limit)),
    }, t('common.previous')),
    h('button', {
      type: 'button', class: 'btn', disabled: offset + limit >= total, 'data-testid': 'pager-next',
      onclick: () => onChange(offset + limit),
    }, t('common.next')));
}

/** Call `fn` after `ms` of quiet. */
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

/**
 * Run `task(signal)` now (or after `ms` when `immediate` is false) and then
 * `ms` after each run ends (never overlapping), until the returned stop
 * function is called. Errors are passed to `onError`.
 */
export function poll(task, ms, onError, { immediate = true } = {}) {
  let stopped = false;
  let timer = null;
  let controller = null;
  const run = async () => {
    if (stopped) return;
    controller = new AbortController();
    try {
      await task(controller.signal);
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      if (!stopped && onError) onError(err);
    }
    if (!stopped) timer = setTimeout(run, ms);
  };
  if (immediate) run();
  else timer = setTimeout(run, ms);
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (controller) controller.abort();
  };
}

/** A table row saying there is nothing to show (or that it is loading). */
export function emptyRow(colspan, text) {
  return h('tr', {}, h('td', { colspan, class: 'empty', text }));
}

/** A panel holding a table: `columns` are [heading, class] pairs, `body` its tbody. */
export function table(testid, columns, body) {
  return h('div', { class: 'panel table-wrap' }, h('table', { class: 'table', 'data-testid': testid },
    h('thead', {}, h('tr', {}, columns.map(([text, cls]) => h('th', { scope: 'col', class: cls || null, text })))),
    body));
}
