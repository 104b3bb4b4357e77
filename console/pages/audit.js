// Audit log: every write, newest first, with who did it and the object's state before and after.
import { h, table, fmt } from '../ui.js';
import { api } from '../api.js';

function state(label, v) {
  if (v === null || v === undefined) return null;
  return h('div', null, h('strong', null, label), h('pre', null, JSON.stringify(v, null, 2)));
}

function changes(row) {
  if (!row.before && !row.after) return '';
  return h('details', null, h('summary', null, 'Before and after'), state('Before', row.before), state('After', row.after));
}

function object(row) {
  const kind = row.object_kind === 'token' && (row.after?.kind || row.before?.kind) === 'session' ? 'session' : row.object_kind;
  return `${kind} ${row.object_id ?? ''}`.trim();
}

export default {
  id: 'audit',
  title: 'Audit log',
  roles: ['admin'],
  render: async (root) => {
    const columns = [
      { label: 'Time', value: r => fmt.time(r.created_at) },
      { label: 'Actor', value: r => r.actor },
      { label: 'Action', value: r => r.action },
      { label: 'Object', value: object },
      { label: 'Changes', value: changes },
    ];
    const box = h('div');
    const more = h('button', { type: 'button', hidden: true }, 'Load more');
    root.append(box, h('div', { class: 'actions' }, more));
    let rows = [];
    const load = async cursor => {
      const page = await api('GET', '/audit?limit=50' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      rows = rows.concat(page.items || []);
      box.replaceChildren(table(columns, rows, { empty: 'Nothing has been written yet.', caption: 'Audit log, newest first' }));
      more.hidden = !page.next_cursor;
      more.onclick = () => load(page.next_cursor);
    };
    await load(null);
  },
};
