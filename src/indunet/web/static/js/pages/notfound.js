// Fallback for unknown hash routes.

import { h, pageHeader } from '../dom.js';
import { t } from '../i18n.js';

export function mount(outlet) {
  outlet.append(pageHeader(t('notFound.title')),
    h('p', {}, t('notFound.body'), ' ', h('a', { href: '#/devices', text: t('notFound.home') })));
}
