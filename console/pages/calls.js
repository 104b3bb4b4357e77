// Call logs: filter by time, consumer, service, model and status; one call in detail; export.
import { h, table, fmt } from '../ui.js';
import { api, apiUrl } from '../api.js';

const FILTERS = ['consumer', 'service', 'model', 'status'];
const STATUSES = ['', '2xx', '3xx', '4xx', '5xx', '429'];

/** datetime-local text <-> Unix ms (the browser's local time). */
function localInput(ms) {
  if (!ms) return '';
  const d = new Date(Number(ms));
  const pad = n => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
function fromLocal(text) {
  if (!text) return '';
  const ms = new Date(text).getTime();
  return isNaN(ms) ? '' : String(ms);
}

function filtersOf(query) {
  const f = {};
  for (const k of ['from', 'to', ...FILTERS]) if (query.get(k)) f[k] = query.get(k);
  return f;
}

function statusBadge(s) {
  const cls = s >= 500 || s === 0 ? 'bad' : s >= 400 ? 'warn' : 'ok';
  return h('span', { class: `badge ${cls}` }, String(s ?? '—'));
}

function toolbar(filters) {
  const input = (name, label, attrs = {}) => {
    const id = 'calls-' + name;
    return h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { id, name, value: filters[name] || '', ...attrs }));
  };
  const fromEl = input('from', 'From', { type: 'datetime-local', value: localInput(filters.from) });
  const toEl = input('to', 'To', { type: 'datetime-local', value: localInput(filters.to) });
  const status = h('div', { class: 'field' }, h('label', { for: 'calls-status' }, 'Status'),
    h('select', { id: 'calls-status', name: 'status' },
      STATUSES.map(s => h('option', { value: s, selected: (filters.status || '') === s }, s || 'any'))));
  const form = h('form', { class: 'toolbar', role: 'search', 'aria-label': 'Filter calls' },
    fromEl, toEl, input('consumer', 'Consumer'), input('service', 'Service'), input('model', 'Model'), status,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h('a', { class: 'button', href: '#/calls' }, 'Clear')));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const data = new FormData(form);
    const q = new URLSearchParams();
    for (const [k, v] of data.entries()) {
      const val = k === 'from' || k === 'to' ? fromLocal(v) : String(v).trim();
      if (val) q.set(k, val);
    }
    location.hash = '#/calls' + (q.toString() ? '?' + q : '');
  });
  return form;
}

function exports(filters) {
  return h('p', { class: 'actions' }, 'Export these calls: ',
    h('a', { class: 'button', href: apiUrl('/calls', { ...filters, format: 'ndjson' }), download: 'calls.ndjson' }, 'NDJSON'),
    h('a', { class: 'button', href: apiUrl('/calls', { ...filters, format: 'csv' }), download: 'calls.csv' }, 'CSV'));
}

function detailLink(c, filters) {
  const q = new URLSearchParams(filters).toString();
  return h('a', { href: `#/calls/${encodeURIComponent(c.request_id || '')}${q ? '?' + q : ''}` }, fmt.time(c.time || c.time_ms));
}

const COLUMNS = filters => [
  { label: 'Time', value: c => c.request_id ? detailLink(c, filters) : fmt.time(c.time || c.time_ms) },
  { label: 'Status', value: c => statusBadge(c.status) },
  { label: 'Request', value: c => `${c.method || ''} ${c.path || ''}`.trim() },
  { label: 'Service', value: c => c.service || '—' },
  { label: 'Consumer', value: c => c.consumer || '—' },
  { label: 'Model', value: c => c.model || '—' },
  { label: 'Latency', value: c => fmt.ms(c.total_us, { us: true }) },
  { label: 'Tokens', value: c => (c.input_tokens || c.output_tokens) ? fmt.num((c.input_tokens || 0) + (c.output_tokens || 0)) : '—' },
  { label: 'Cost', value: c => c.cost_micro_usd ? fmt.usd(c.cost_micro_usd) : '—' },
];

async function list(root, query) {
  const filters = filtersOf(query);
  root.append(toolbar(filters), exports(filters));
  const box = h('div');
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  root.append(box, h('div', { class: 'actions' }, more));
  let rows = [];
  const load = async cursor => {
    const page = await api('GET', apiUrl('/calls', { ...filters, limit: 100, cursor }).slice('/admin/v1'.length));
    rows = rows.concat(page.items || []);
    box.replaceChildren(table(COLUMNS(filters), rows, { empty: 'No calls match these filters.', caption: 'Calls, newest first' }));
    more.hidden = !page.next_cursor;
    more.onclick = () => load(page.next_cursor);
  };
  await load(undefined);
}

function value(k, v) {
  if (v === null || v === undefined || v === '') return '—';
  if (k.endsWith('_us')) return fmt.ms(v, { us: true });
  if (k === 'cost_micro_usd') return fmt.usd(v);
  if (k.startsWith('bytes')) return fmt.bytes(v);
  if (k === 'time_ms') return fmt.time(v);
  if (typeof v === 'object') return h('pre', null, JSON.stringify(v, null, 2));
  if ((k === 'request_body' || k === 'response_body') && typeof v === 'string') {
    let text = v;
    try { text = JSON.stringify(JSON.parse(v), null, 2); } catch { /* shown as stored */ }
    return h('pre', null, text);
  }
  return String(v);
}

async function detail(root, rid, query) {
  const back = new URLSearchParams(filtersOf(query)).toString();
  root.append(h('p', null, h('a', { href: '#/calls' + (back ? '?' + back : '') }, '← Back to the calls')));
  const page = await api('GET', apiUrl('/calls', { request_id: rid, limit: 10 }).slice('/admin/v1'.length));
  const call = (page.items || [])[0];
  if (!call) {
    root.append(h('p', { class: 'empty' }, 'No call with this request id is in the log (or your role may not see it).'));
    return;
  }
  root.append(h('h2', null, `${call.method || ''} ${call.path || ''} `, statusBadge(call.status)),
    h('dl', { class: 'kv' }, Object.entries(call).flatMap(([k, v]) => [h('dt', null, k), h('dd', null, value(k, v))])));
}

export default {
  id: 'calls',
  title: 'Call logs',
  roles: ['admin', 'team_admin', 'developer', 'consumer'],
  render: async (root, { path, query }) => {
    if (path[0]) return detail(root, path[0], query);
    return list(root, query);
  },
};
