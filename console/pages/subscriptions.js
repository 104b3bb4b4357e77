// Subscriptions: the approval queue (approve, or reject with a reason), every subscription the
// caller sees (or one consumer's, ?consumer=NAME), and the catalog to subscribe from.
import { api } from '../api.js';
import { h, form, toast, confirmDialog, fmt } from '../ui.js';
import { all, heading, section, load, link, button, redraw, role, isAdmin, badge, grid } from './common.js';

const enc = encodeURIComponent;
const subscribes = () => ['admin', 'team_admin', 'consumer'].includes(role());

async function maps() {
  const consumers = await load(() => all('/consumers'));
  const services = await load(() => all('/services'));
  const catalog = await load(async () => (await api('GET', '/catalog')).items || []);
  const svc = {}, con = {}, own = new Set();
  if (Array.isArray(catalog)) for (const s of catalog) svc[s.id] = s.name;
  if (Array.isArray(services)) for (const s of services) { svc[s.id] = s.name; own.add(s.id); }
  if (Array.isArray(consumers)) for (const c of consumers) con[c.id] = c.name;
  return { svc, con, own, consumers: Array.isArray(consumers) ? consumers : [], catalog };
}

function decideCell(s, m, again) {
  // The service's side decides: admins, and team admins of the service's team.
  const mine = isAdmin() || (role() === 'team_admin' && m.own.has(s.service_id));
  if (!mine) return '';
  const out = h('div', { class: 'row-actions' });
  if (s.state === 'pending' || s.state === 'rejected') {
    out.append(button(`Approve ${m.con[s.consumer_id] || s.consumer_id}`, async () => {
      await api('POST', `/subscriptions/${s.id}/approve`);
      toast('Subscription approved');
      await again();
    }, 'small primary'));
  }
  if (s.state === 'pending' || s.state === 'active') {
    out.append(form([{ name: 'reason', label: `Reason to reject subscription ${s.id}` }], async v => {
      await api('POST', `/subscriptions/${s.id}/reject`, v.reason ? { reason: v.reason } : {});
      toast('Subscription rejected');
      await again();
    }, { submit: 'Reject' }));
  }
  return out;
}

function cancelCell(s, m, again) {
  if (!subscribes() || s.state === 'cancelled' || !(s.consumer_id in m.con)) return '';
  return button(`Cancel subscription ${s.id}`, async () => {
    if (!(await confirmDialog('Cancel this subscription? Its consumer\'s keys stop reaching the service.'))) return;
    await api('DELETE', `/subscriptions/${s.id}`);
    toast('Subscription cancelled');
    await again();
  }, 'small');
}

function subTable(rows, m, again, caption, empty) {
  return grid([
    { label: 'Consumer', value: s => m.con[s.consumer_id] || `#${s.consumer_id}` },
    { label: 'Service', value: s => m.svc[s.service_id] || `#${s.service_id}` },
    { label: 'State', value: s => badge(s.state) },
    { label: 'Reason', value: s => s.reason || '' },
    { label: 'Requested', value: s => fmt.time(s.created_at) },
    { label: 'Decide', value: s => decideCell(s, m, again) },
    { label: 'Cancel', value: s => cancelCell(s, m, again) },
  ], rows, { empty, caption });
}

function catalogView(m, again) {
  if (!Array.isArray(m.catalog)) return m.catalog;
  const pick = m.consumers.map(c => ({ value: c.name, label: c.name }));
  return grid([
    { label: 'Service', value: s => s.name },
    { label: 'Team', value: s => s.team || '' },
    { label: 'Kind', value: s => s.kind },
    { label: 'Approval', value: s => (s.approval === 'manual' ? 'needs approval' : 'at once') },
    { label: 'APIs', value: s => (s.apis || []).map(a => `${a.path_prefix}${a.state && a.state !== 'published' ? ` (${a.state})` : ''}`).join(', ') },
    { label: 'Your subscriptions', value: s => (s.subscriptions || []).map(x => `${x.consumer}: ${x.state}`).join(', ') || '—' },
    { label: 'Subscribe', value: s => (subscribes() && pick.length ? form([
      { name: 'consumer', label: `Consumer to subscribe to ${s.name}`, type: 'select', options: pick },
    ], async v => {
      const sub = await api('POST', '/subscriptions', { consumer: v.consumer, service: s.name });
      toast(sub.state === 'active' ? `${v.consumer} subscribed to ${s.name}` : `Subscription pending: ${s.name}'s team approves it`);
      await again();
    }, { submit: 'Subscribe' }) : '') },
  ], m.catalog, { empty: 'Nothing to subscribe to yet.', caption: 'Catalog' });
}

async function draw(root, params) {
  const again = () => redraw(root, draw, params);
  const m = await maps();
  const only = params.query && params.query.get('consumer');
  root.append(heading(null, 'Which consumers may call which services. A manual service\'s subscriptions wait for its team\'s approval.'));
  let subs = await load(() => all('/subscriptions'));
  if (subs instanceof Node) { root.append(subs); return; }
  if (only) {
    const id = Object.keys(m.con).find(k => m.con[k] === only);
    subs = subs.filter(s => String(s.consumer_id) === id);
    root.append(h('p', {}, `Showing ${only}'s subscriptions. `, link('#/subscriptions', 'Show all')));
  }
  const pending = subs.filter(s => s.state === 'pending');
  root.append(section(`Waiting for approval (${pending.length})`, subTable(pending, m, again, 'Waiting for approval', 'Nothing waits for approval.')));
  root.append(section(only ? `Subscriptions of ${only}` : 'All subscriptions', subTable(subs, m, again, 'Subscriptions', 'No subscriptions yet.')));
  root.append(section('Catalog', catalogView(m, again)));
}

export default { id: 'subscriptions', title: 'Subscriptions', roles: ['admin', 'team_admin', 'developer', 'consumer'], render: draw };
