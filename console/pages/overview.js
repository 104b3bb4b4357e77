// Overview: traffic, errors, latency, tokens and cost over a time range, the busiest names,
// and, for admins, the health of upstreams, providers and MCP servers. From /analytics/top
// and /series, /upstreams, /providers and /mcp-servers.
import { h, fmt, clear } from '../ui.js';
import { api, session } from '../api.js';
import { lineChart, barList, formatValue } from '../chart.js';
import { badge } from './common.js';

const RANGES = [
  { value: '1h', label: 'Last hour', ms: 3600e3 },
  { value: '24h', label: 'Last 24 hours', ms: 86400e3 },
  { value: '7d', label: 'Last 7 days', ms: 7 * 86400e3 },
  { value: '30d', label: 'Last 30 days', ms: 30 * 86400e3 },
];

function rangeOf(query) {
  return RANGES.find(r => r.value === query.get('range')) || RANGES[1];
}

function q(params) {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') s.set(k, v);
  return '?' + s.toString();
}

function card(label, value) {
  return h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
}

function panel(title, ...body) {
  return h('section', { class: 'panel', 'aria-label': title }, h('h2', null, title), ...body);
}

function toolbar(range, focus, services, query) {
  const go = changes => {
    const next = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) { if (v) next.set(k, v); else next.delete(k); }
    location.hash = '#/overview' + (next.toString() ? '?' + next : '');
  };
  const rangeSel = h('select', { id: 'ov-range', on: { change: e => go({ range: e.target.value }) } },
    RANGES.map(r => h('option', { value: r.value, selected: r === range }, r.label)));
  const focusSel = h('select', { id: 'ov-service', on: { change: e => go({ service: e.target.value }) } },
    services.length ? services.map(s => h('option', { value: s, selected: s === focus }, s))
      : h('option', { value: '' }, 'No traffic yet'));
  return h('div', { class: 'toolbar' },
    h('div', { class: 'field' }, h('label', { for: 'ov-range' }, 'Time range'), rangeSel),
    h('div', { class: 'field' }, h('label', { for: 'ov-service' }, 'Charts for service'), focusSel),
    h('button', { type: 'button', on: { click: () => go({ t: String(Date.now()) }) } }, 'Refresh'));
}

/* /analytics/top: the ranked items, and the totals of every call in the range (the API's own:
 * names past the limit and calls without a service count there too). */
async function topAnswer(by, metric, from, to, limit = 10) {
  return api('GET', '/analytics/top' + q({ by, metric, from, to, limit }));
}

async function top(by, metric, from, to, limit = 10) {
  return (await topAnswer(by, metric, from, to, limit)).items || [];
}

function charts(points, from, to) {
  const at = p => p.start_ms;
  const line = (name, f) => ({ name, points: points.map(p => [at(p), f(p)]) });
  const opts = { from, to };
  return h('div', { class: 'grid2' },
    panel('Requests', lineChart([line('requests', p => p.requests)], { ...opts, title: 'Requests' })),
    panel('Error rate', lineChart([line('errors', p => p.requests ? 100 * (p.errors?.total || 0) / p.requests : 0)],
      { ...opts, unit: '%', title: 'Error rate' })),
    panel('Latency', lineChart([
      line('p50', p => p.latency_us?.p50 ?? 0), line('p95', p => p.latency_us?.p95 ?? 0), line('p99', p => p.latency_us?.p99 ?? 0),
    ], { ...opts, unit: 'us', title: 'Latency p50, p95, p99' })),
    panel('Tokens', lineChart([line('input', p => p.input_tokens || 0), line('output', p => p.output_tokens || 0)],
      { ...opts, title: 'Tokens in and out' })),
    panel('Cost', lineChart([line('cost', p => p.cost_micro_usd || 0)], { ...opts, unit: 'usd', title: 'Cost' })));
}

/* One list of named things with their health badge and a detail line. */
function healthList(items, detail, none) {
  if (!items.length) return h('p', { class: 'empty' }, none);
  return h('ul', { class: 'plain-list' }, items.map(i => h('li', null, badge(i.status), ' ', h('strong', null, i.name),
    ' ', h('span', { class: 'muted' }, detail(i)))));
}

/* Health, as the gateway sees it now: service targets (balancer), providers (usable keys), MCP servers. */
async function health(root) {
  if (session()?.role !== 'admin') return;
  const items = path => api('GET', path).then(r => r.items).catch(() => []);
  const [upstreams, providers, mcp] = await Promise.all([items('/upstreams'), items('/providers'), items('/mcp-servers')]);
  root.append(h('div', { class: 'grid2', role: 'group', 'aria-label': 'Health' },
    panel('Upstreams', healthList(upstreams, u => `${u.targets_available} of ${u.targets.length} targets available` +
      u.targets.filter(t => t.status !== 'up').map(t => `; ${t.url} ${t.status}`).join(''), 'No service with targets.')),
    panel('Providers', healthList(providers, p => `${p.type}, ${p.keys_usable} of ${p.keys} keys usable`, 'No AI provider is declared.')),
    panel('MCP servers', healthList(mcp, m => `${m.transport}, ready on ${m.workers_ready} workers`, 'No MCP server is declared.'))));
}

export default {
  id: 'overview',
  title: 'Overview',
  roles: ['admin', 'team_admin', 'developer', 'consumer'],
  render: async (root, { query }) => {
    const range = rangeOf(query);
    const to = Date.now();
    const from = to - range.ms;
    let services, t;
    try {
      const answer = await topAnswer('service', 'requests', from, to, 1000);
      services = answer.items || [];
      t = answer.totals || {};
    } catch (e) {
      if (e.status === 404) {
        root.append(h('p', null, 'The call log is off, so there are no analytics: turn it on with call_log: in the configuration.'));
        await health(root);
        return;
      }
      throw e;
    }
    const names = services.map(s => s.name);
    const focus = names.includes(query.get('service')) ? query.get('service') : names[0];
    const requests = t.requests || 0, lat = t.latency_us || {};
    root.append(toolbar(range, focus, names, query));
    root.append(h('div', { class: 'cards', role: 'group', 'aria-label': 'Totals' },
      card('Requests', fmt.num(requests)),
      card('Error rate', requests ? formatValue(100 * (t.errors?.total || 0) / requests, '%') : '—'),
      card('Latency p50 / p95 / p99', requests ? [lat.p50, lat.p95, lat.p99].map(v => formatValue(v, 'us')).join(' / ') : '—'),
      card('Tokens', fmt.num((t.input_tokens || 0) + (t.output_tokens || 0))),
      card('Cost', fmt.usd(t.cost_micro_usd || 0))));
    const chartBox = h('div', { class: 'charts' });
    root.append(chartBox);
    const [consumers, models] = await Promise.all([
      top('consumer', 'requests', from, to), top('model', 'cost', from, to),
    ]);
    root.append(h('div', { class: 'grid2' },
      panel('Top services', barList(services.slice(0, 10).map(s => ({ label: s.name, value: s.requests, href: `#/overview?range=${range.value}&service=${encodeURIComponent(s.name)}` })), { unit: 'requests' })),
      panel('Top consumers', barList(consumers.map(s => ({ label: s.name, value: s.requests })), { unit: 'requests' })),
      panel('Top models by cost', barList(models.map(s => ({ label: s.name, value: s.cost_micro_usd })), { unit: 'usd' }))));
    if (focus) {
      const series = await api('GET', '/analytics/series' + q({ by: 'service', name: focus, from, to }));
      clear(chartBox, h('h2', null, `Service ${focus}`), charts(series.points || [], from, to));
    } else {
      clear(chartBox, h('p', { class: 'empty' }, 'No calls in this range yet.'));
    }
    await health(root);
  },
};
