// Message catalogs and locale-aware formatting.
//
// Catalogs are flat JSON files in ../locale/<code>.json. English is always
// loaded as the fallback; a key missing from both shows the key itself.
// Static markup is translated through data attributes:
//   data-i18n="key"             -> textContent
//   data-i18n-placeholder="key" -> placeholder
//   data-i18n-aria-label="key"  -> aria-label
//   data-i18n-title="key"       -> title

export const LANGUAGES = [
  { code: 'en', label: 'English' },
  { code: 'zh-CN', label: '中文' },
];
const DEFAULT = 'en';
const STORAGE_KEY = 'indunet.lang';

const catalogs = new Map();
const listeners = new Set();
let current = DEFAULT;

async function loadCatalog(code) {
  if (!catalogs.has(code)) {
    const url = new URL(`../locale/${code}.json`, import.meta.url);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`catalog ${code}: HTTP ${response.status}`);
    catalogs.set(code, await response.json());
  }
  return catalogs.get(code);
}

/** The saved choice, else the browser's language, else English. */
export function detectLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved && LANGUAGES.some((l) => l.code === saved)) return saved;
  for (const tag of navigator.languages || [navigator.language || '']) {
    const lower = String(tag).toLowerCase();
    if (lower.startsWith('zh')) return 'zh-CN';
    if (lower.startsWith('en')) return 'en';
  }
  return DEFAULT;
}

export function getLanguage() {
  return current;
}

/** True when the current language is Chinese (used to pick `*_zh` fields). */
export function isChinese() {
  return current.startsWith('zh');
}

/** Load `code` (and the English fallback), apply it to the page, tell listeners. */
export async function setLanguage(code, { persist = true } = {}) {
  if (!LANGUAGES.some((l) => l.code === code)) code = DEFAULT;
  await loadCatalog(DEFAULT);
  await loadCatalog(code);
  current = code;
  if (persist) localStorage.setItem(STORAGE_KEY, code);
  document.documentElement.lang = code;
  translateDom(document);
  for (const fn of listeners) fn(code);
}

export function onLanguageChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Translate `key`, replacing `{name}` placeholders from `vars`. */
export function t(key, vars) {
  const own = catalogs.get(current);
  const fallback = catalogs.get(DEFAULT);
  let text = (own && own[key]) ?? (fallback && fallback[key]);
  if (text === undefined) {
    console.warn(`i18n: missing key ${key}`);
    text = key;
  }
  if (vars) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  return text;
}

/** Like `t` but returns `fallback` (not the key) when the key is unknown. */
export function tOr(key, fallback) {
  const own = catalogs.get(current);
  const en = catalogs.get(DEFAULT);
  return (own && own[key]) ?? (en && en[key]) ?? fallback;
}

export function translateDom(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-aria-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  }
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
}

// ---- formatting -----------------------------------------------------------

/**
 * Parse an RFC 3339 timestamp to epoch milliseconds. Fractions longer than
 * milliseconds (Python's isoformat gives microseconds) are cut to three digits.
 */
export function parseTime(value) {
  if (value == null || value === '') return NaN;
  if (typeof value === 'number') return value;
  const normalised = String(value).replace(/(\.\d{3})\d+/, '$1').replace(' ', 'T');
  return Date.parse(normalised);
}

const RELATIVE_UNITS = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

/** "5 minutes ago" / "5分钟前"; `null` gives the "never" text. */
export function formatRelative(value, now = Date.now()) {
  const ms = parseTime(value);
  if (Number.isNaN(ms)) return t('common.never');
  const seconds = Math.round((ms - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(current, { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 5) return rtf.format(0, 'second');
  for (const [unit, size] of RELATIVE_UNITS) {
    if (abs >= size || unit === 'second') return rtf.format(Math.trunc(seconds / size), unit);
  }
  return rtf.format(seconds, 'second');
}

export function formatDateTime(value) {
  const ms = parseTime(value);
  if (Number.isNaN(ms)) return t('common.none');
  return new Intl.DateTimeFormat(current, {
    year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
  }).format(ms);
}

export function formatTime(value) {
  const ms = parseTime(value);
  if (Number.isNaN(ms)) return t('common.none');
  return new Intl.DateTimeFormat(current, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
    .format(ms);
}

export function formatNumber(value, maximumFractionDigits = 3) {
  return new Intl.NumberFormat(current, { maximumFractionDigits }).format(value);
}

/** A point value for display: numbers localised, booleans and objects as text. */
export function formatValue(value) {
  if (value === null || value === undefined) return t('common.none');
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'boolean') return t(value ? 'common.true' : 'common.false');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
