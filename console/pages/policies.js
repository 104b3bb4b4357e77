// Limits, quotas and budgets (/policies): the list with each policy's current usage against
// its limits, and a form to create or edit one whose errors show next to the field at fault.
import { api } from '../api.js';
import { h, form, toast, confirmDialog, fmt } from '../ui.js';
import { all, heading, section, load, button, names, teamOptions, redraw, role, isAdmin, link, grid, write } from './common.js';

const enc = encodeURIComponent;
const writes = () => ['admin', 'team_admin'].includes(role());
const SCOPES = ['consumer', 'team', 'service', 'route', 'model', 'key'];
// The numeric members a policy may set, as "section.member" (the admin API names fields so).
const NUMBERS = [
  ['rate.requests', 'Rate: requests'], ['rate.burst', 'Rate: burst'], ['concurrency', 'Concurrency (calls at once)'],
  ['tokens.per_minute', 'AI tokens per minute'],
  ['quota.requests_per_day', 'Quota: requests per day'], ['quota.requests_per_month', 'Quota: requests per month'],
  ['quota.tokens_per_day', 'Quota: tokens per day'], ['quota.tokens_per_month', 'Quota: tokens per month'],
  ['budget.usd_per_day', 'Budget: USD per day'], ['budget.usd_per_month', 'Budget: USD per month'],
  ['budget.soft_at', 'Budget: report at (fraction, 0.8)'],
];

function get(p, dotted) {
  return dotted.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), p);
}

function scopeOf(p) {
  const a = p && p.applies_to;
  const k = a && Object.keys(a)[0];
  return k ? [k, a[k]] : ['', ''];
}

/** What a policy limits, in one line. */
function limits(p) {
  const out = [];
  if (p.rate) out.push(`${fmt.num(p.rate.requests)} per ${p.rate.per}`);
  if (p.concurrency) out.push(`${fmt.num(p.concurrency)} at once`);
  if (p.tokens) out.push(`${fmt.num(p.tokens.per_minute)} tokens/min`);
  for (const [k, v] of Object.entries(p.quota || {})) if (k !== 'time_zone') out.push(`${fmt.num(v)} ${k.replace(/_/g, ' ')}`);
  for (const [k, v] of Object.entries(p.budget || {})) if (k.startsWith('usd_')) out.push(`${fmt.usd(v, { dollars: true })} ${k.slice(4).replace(/_/g, ' ')}`);
  if (p.mask) out.push('masking');
  return out.join(', ') || '—';
}

/** Current usage against each quota and budget, from GET /policies/{id}/usage. */
async function usage(p) {
  let u;
  try {
    u = await api('GET', `/policies/${enc(p.name)}/usage`);
  } catch (e) {
    return h('span', { class: 'muted' }, e.status === 404 ? 'not available' : e.message);
  }
  const w = u.windows || [];
  if (!w.length) return h('span', { class: 'muted' }, p.quota || p.budget ? 'nothing counted yet' : 'rates only (no totals)');
  return h('ul', { class: 'usage' }, w.map(x => {
    const used = x.unit === 'USD' ? fmt.usd(x.used, { dollars: true }) : fmt.num(x.used);
    const of = x.limit == null ? '' : ` of ${x.unit === 'USD' ? fmt.usd(x.limit, { dollars: true }) : fmt.num(x.limit)}`;
    const share = x.limit ? Math.min(1, x.used / x.limit) : 0;
    const meter = h('meter', { min: 0, max: 1, value: share, 'aria-label': `${x.window}${x.group ? ' for ' + x.group : ''}` });
    return h('li', {}, `${x.window.replace(/_/g, ' ')}${x.group ? ` (${x.group})` : ''}: ${used}${of} `, meter);
  }));
}

function fields(p, teamOpts) {
  const [scope, target] = scopeOf(p);
  const f = [{ name: 'name', label: 'Name', required: true, value: p && p.name }];
  if (Array.isArray(teamOpts) && !p) f.push({ name: 'team', label: 'Team (empty: the whole gateway)', type: 'select', options: [{ value: '', label: '—' }, ...teamOpts] });
  f.push(
    { name: 'applies_to', label: 'Applies to', type: 'select', value: scope, options: [{ value: '', label: 'every call' }, ...SCOPES] },
    { name: 'applies_to.target', label: 'Name of what it applies to', value: target, placeholder: 'acme-app' },
    { name: 'group_by', label: 'One window per', type: 'select', value: (p && p.group_by) || '', options: [{ value: '', label: 'none (shared)' }, 'consumer', 'team', 'key'] },
    { name: 'rate.per', label: 'Rate: window', value: get(p, 'rate.per'), placeholder: '1m' },
  );
  for (const [name, label] of NUMBERS) f.push({ name, label, type: 'number', step: 'any', value: get(p, name) });
  f.push({ name: 'on_store_error', label: 'When totals cannot be stored', type: 'select', value: (p && p.on_store_error) || 'open', options: ['open', 'closed'] });
  return f;
}

/** A policy body from the form's values; on edit, members emptied are null (removed). */
function body(v, p) {
  const b = { name: v.name };
  if (v.team) b.team = v.team;
  b.applies_to = v.applies_to ? { [v.applies_to]: v['applies_to.target'] || '' } : null;
  b.group_by = v.group_by || null;
  b.on_store_error = v.on_store_error;
  const sections = {};
  const put = (name, val) => {
    const [s, m] = name.split('.');
    if (!m) { b[s] = val ?? null; return; }
    sections[s] = sections[s] || {};
    if (val !== undefined) sections[s][m] = val;
  };
  put('rate.per', v['rate.per']);
  for (const [name] of NUMBERS) put(name, v[name]);
  for (const s of ['rate', 'tokens', 'quota', 'budget']) {
    const o = sections[s] || {};
    if (p && p[s] && p[s].time_zone && Object.keys(o).length) o.time_zone = p[s].time_zone;
    if (p && p[s] && p[s].webhook && s === 'budget' && Object.keys(o).length) o.webhook = p[s].webhook;
    b[s] = Object.keys(o).length ? o : null;
  }
  if (!p) for (const k of Object.keys(b)) if (b[k] === null) delete b[k];
  return b;
}

async function draw(root, params) {
  const again = () => redraw(root, draw, params);
  const editing = params.path && params.path[0] ? decodeURIComponent(params.path[0]) : null;
  const teams = await names('/teams');
  root.append(heading(null, 'Policies made here; the configuration file\'s own policies are changed in the file.'));
  const rows = await load(() => all('/policies'));
  if (rows instanceof Node) { root.append(rows); return; }
  const usageCells = await Promise.all(rows.map(usage));
  const byName = new Map(rows.map((p, i) => [p.name, usageCells[i]]));
  root.append(section('Policies', grid([
    { label: 'Name', value: p => p.name },
    { label: 'Team', value: p => (p.team_id ? teams[p.team_id] || String(p.team_id) : 'gateway') },
    { label: 'Applies to', value: p => { const [k, v] = scopeOf(p); return k ? `${k} ${v}` : 'every call'; } },
    { label: 'Limits', value: p => limits(p) },
    { label: 'Usage now', value: p => byName.get(p.name) },
    { label: 'Actions', value: p => (writes() ? h('div', { class: 'row-actions' },
      link(`#/policies/${enc(p.name)}`, `Edit ${p.name}`),
      button(`Delete ${p.name}`, async () => {
        if (!(await confirmDialog(`Delete policy ${p.name}?`))) return;
        await api('DELETE', `/policies/${enc(p.name)}`);
        toast(`Policy ${p.name} deleted`);
        await again();
      }, 'danger small')) : '') },
  ], rows, { empty: 'No policies yet.', caption: 'Policies' })));
  if (!writes()) return;
  const teamOpts = isAdmin() ? await load(teamOptions) : null;
  const p = editing ? rows.find(r => r.name === editing) : null;
  if (editing && !p) root.append(h('p', { class: 'notice', role: 'alert' }, `No policy ${editing} that you may see.`));
  root.append(section(p ? `Edit ${p.name}` : 'New policy', form(fields(p, teamOpts), async v => {
    if (p) await write('PATCH', `/policies/${enc(p.name)}`, body(v, p));
    else await write('POST', '/policies', body(v, null));
    toast(`Policy ${v.name} saved`);
    if (p) location.hash = '#/policies';
    else await again();
  }, { submit: p ? 'Save policy' : 'Create policy' })));
}

export default { id: 'policies', title: 'Limits', roles: ['admin', 'team_admin', 'developer', 'consumer'], render: draw };
