// Identifiers → Ledger: the allocation ledgers kept by the federation's nodes, as the platform
// checked them. Each ledger shows its latest signed tree head (signature verified, against the
// pinned log key when configured), the witnesses whose cosignatures of that head verify, and its
// entries newest first, each marked with whether the node proved it included in that head.
//
// The list polls every 10 s; the entries of the chosen ledger reload when its head grows while the
// newest page is shown (an older page stays put while someone reads it).

import { request } from '../api.js';
import { emptyRow, errorText, h, messageBox, poll, table } from '../dom.js';
import { formatDateTime, formatNumber, formatTime, t } from '../i18n.js';

const REFRESH_MS = 10000;
const PAGE = 20;
const KIND_BADGE = {
  allocation: 'badge-online', registration: 'badge-online', transfer: 'badge-unknown',
  revocation: 'badge-danger', deletion: 'badge-danger',
};

const seg = encodeURIComponent;
const when = (ms) => formatDateTime(new Date(ms).toISOString());

function shortBid(bid) {
  return h('span', { class: 'mono small', title: bid, text: bid.length > 26 ? `${bid.slice(0, 24)}…` : bid });
}

function detailText(detail) {
  if (!detail) return '';
  const parts = [];
  if (detail.sites && detail.sites.length) parts.push(`${t('ids.ledger.sites')}: ${detail.sites.join(', ')}`);
  if (detail.admins && detail.admins.length) parts.push(`${t('ids.ledger.admins')}: ${detail.admins.join(', ')}`);
  if (detail.record_sm3) parts.push(`SM3 ${detail.record_sm3.slice(0, 16)}…`);
  return parts.join(' · ');
}

export function ledgerPanel() {
  const message = h('div');
  const updated = h('span', { class: 'muted small', 'aria-live': 'off' });
  const cards = h('div', { class: 'ledger-cards', 'data-testid': 'ledger-list' });
  const entriesTitle = h('h2', { class: 'panel-title' });
  const rows = h('tbody', {}, emptyRow(6, t('ids.ledger.choose')));
  const older = h('button', { type: 'button', class: 'btn', 'data-testid': 'ledger-older', text: t('ids.ledger.older'), hidden: true });
  const newest = h('button', { type: 'button', class: 'btn', 'data-testid': 'ledger-newest', text: t('ids.ledger.newest'), hidden: true });
  const entriesMessage = h('div', { 'aria-live': 'polite' });
  let chosen = null; // { name, before, size }

  function entryRow(e) {
    const ok = e.included;
    return h('tr', { 'data-testid': 'ledger-entry', dataset: { seq: String(e.seq), included: String(ok) } },
      h('td', { class: 'num mono', text: formatNumber(e.seq) }),
      h('td', {}, e.kind
        ? h('span', { class: `badge ${KIND_BADGE[e.kind] || ''}`, text: t(`ids.ledger.kind.${e.kind}`) })
        : h('span', { class: 'badge badge-danger', title: e.problem, text: t('ids.ledger.unreadable') })),
      h('td', { class: 'mono', text: e.subject || '' }),
      h('td', { class: 'nowrap', text: e.at ? formatDateTime(e.at) : '' }),
      h('td', { class: 'small', text: detailText(e.detail) }),
      h('td', {}, h('span', {
        class: `badge ${ok ? 'badge-online' : 'badge-danger'}`, 'data-testid': 'ledger-included',
        title: t(ok ? 'ids.ledger.includedHelp' : 'ids.ledger.notIncludedHelp'),
        text: t(ok ? 'ids.ledger.included' : 'ids.ledger.notIncluded'),
      })));
  }

  async function loadEntries() {
    if (!chosen) return;
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (chosen.before !== null) query.set('before', String(chosen.before));
    try {
      const page = await request(`/identifiers/ledgers/${seg(chosen.name)}/entries?${query}`);
      chosen.size = page.size;
      entriesMessage.replaceChildren();
      rows.replaceChildren(...(page.items.length ? page.items.map(entryRow) : [emptyRow(6, t('ids.ledger.empty'))]));
      chosen.next = page.next_before;
      older.hidden = page.next_before === null;
      newest.hidden = chosen.before === null;
    } catch (err) {
      entriesMessage.replaceChildren(messageBox('error', errorText(err)));
    }
  }

  function choose(name) {
    chosen = { name, before: null, size: null, next: null };
    entriesTitle.textContent = t('ids.ledger.entriesOf', { name });
    loadEntries();
  }
  older.addEventListener('click', () => { chosen.before = chosen.next; loadEntries(); });
  newest.addEventListener('click', () => { chosen.before = null; loadEntries(); });

  function card(l) {
    const verified = l.error === null;
    const head = verified
      ? h('dl', { class: 'facts' },
        h('dt', { text: t('ids.ledger.log') }), h('dd', {}, shortBid(l.log), ' ',
          h('span', { class: 'muted small', text: t(l.pinned ? 'ids.ledger.pinned' : 'ids.ledger.notPinned') })),
        h('dt', { text: t('ids.ledger.size') }), h('dd', { class: 'mono', 'data-testid': 'ledger-size', text: formatNumber(l.size) }),
        h('dt', { text: t('ids.ledger.signedAt') }), h('dd', { text: when(l.signed_at_ms) }),
        h('dt', { text: t('ids.ledger.hash') }), h('dd', { class: 'mono small', title: l.root, text: `${l.hash} ${l.root.slice(0, 16)}…` }),
        h('dt', { text: t('ids.ledger.witnesses') }), h('dd', { 'data-testid': 'ledger-witnesses' },
          l.witnesses.length
            ? h('ul', { class: 'plain' }, l.witnesses.map((w) => h('li', {}, shortBid(w.witness), ' ', h('span', { class: 'muted small', text: when(w.at_ms) }))))
            : h('span', { class: 'muted', text: t('ids.ledger.noWitness') })))
      : messageBox('error', t('ids.ledger.failed', { reason: l.error }));
    return h('div', { class: 'panel', 'data-testid': 'ledger-card', dataset: { name: l.name, verified: String(verified) } },
      h('h2', { class: 'panel-title' }, `${l.name} `, h('span', { class: 'muted small', text: l.prefix || '' }), ' ',
        h('span', { class: `badge ${verified ? 'badge-online' : 'badge-danger'}`, 'data-testid': 'ledger-verified',
          text: t(verified ? 'ids.ledger.verified' : 'ids.ledger.unverified') })),
      head,
      verified ? h('div', { class: 'form-actions' }, h('button', {
        type: 'button', class: 'btn', 'data-testid': 'ledger-show', onclick: () => choose(l.name), text: t('ids.ledger.show'),
      })) : null);
  }

  async function load(signal) {
    const ledgers = await request('/identifiers/ledgers', { signal });
    message.replaceChildren();
    updated.textContent = t('common.updatedAt', { time: formatTime(new Date().toISOString()) });
    cards.replaceChildren(...(ledgers.length ? ledgers.map(card) : [messageBox('info', t('ids.ledger.none'))]));
    const current = chosen && ledgers.find((l) => l.name === chosen.name);
    if (current && chosen.before === null && current.size !== chosen.size) loadEntries();
  }

  const el = h('div', {},
    h('div', { class: 'toolbar' }, h('span', { class: 'muted small', text: t('ids.ledger.help') }), updated),
    message, cards,
    h('div', { class: 'panel' }, entriesTitle, entriesMessage),
    table('ledger-entries', [
      [t('ids.ledger.col.seq'), 'num'], [t('ids.ledger.col.kind')], [t('ids.ledger.col.subject')],
      [t('ids.ledger.col.at')], [t('ids.ledger.col.detail')], [t('ids.ledger.col.proof')],
    ], rows),
    h('div', { class: 'form-actions' }, newest, older));
  return {
    el,
    start: () => poll(load, REFRESH_MS, (err) => {
      if (err.status !== 401) message.replaceChildren(messageBox('error', errorText(err)));
    }),
  };
}
