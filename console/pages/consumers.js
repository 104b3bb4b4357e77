// Consumers and their keys: create a consumer, create a key (shown once, with a copy button),
// revoke one, see when each expires.
import { api } from '../api.js';
import { h, form, toast, confirmDialog, secretOnce, fmt } from '../ui.js';
import { all, heading, section, load, object, link, button, names, teamOptions, compact, redraw, role, badge, grid } from './common.js';

const enc = encodeURIComponent;
const writes = () => ['admin', 'team_admin', 'consumer'].includes(role());

async function list(root, params) {
  const again = () => redraw(root, list, params);
  const teams = await names('/teams');
  root.append(heading(null, 'The applications that call your APIs, each with its keys and subscriptions.'));
  const rows = await load(() => all('/consumers'));
  root.append(section('All consumers', rows instanceof Node ? rows : grid([
    { label: 'Name', value: c => link(`#/consumers/${enc(c.name)}`, c.name) },
    { label: 'Team', value: c => teams[c.team_id] || String(c.team_id ?? '—') },
    { label: 'Created', value: c => fmt.time(c.created_at) },
    { label: 'Subscriptions', value: c => link(`#/subscriptions?consumer=${enc(c.name)}`, 'view') },
    { label: 'Actions', value: c => (writes() ? button(`Delete ${c.name}`, async () => {
      if (!(await confirmDialog(`Delete consumer ${c.name}? Its keys stop working.`))) return;
      await api('DELETE', `/consumers/${enc(c.name)}`);
      toast(`Consumer ${c.name} deleted`);
      await again();
    }, 'danger small') : '') },
  ], rows, { empty: 'No consumers yet.', caption: 'Consumers' })));
  if (!writes()) return;
  const teamOpts = await load(teamOptions);
  const fields = [{ name: 'name', label: 'Name', required: true }];
  if (Array.isArray(teamOpts)) fields.push({ name: 'team', label: 'Team', type: 'select', options: teamOpts, required: true });
  root.append(section('New consumer', form(fields, async v => {
    const c = await api('POST', '/consumers', v);
    toast(`Consumer ${c.name} created`);
    location.hash = `#/consumers/${enc(c.name)}`;
  }, { submit: 'Create consumer' })));
}

function keyState(k) {
  if (k.revoked_at) return 'revoked';
  if (k.expires_at && k.expires_at * 1000 <= Date.now()) return 'expired';
  return 'active';
}

async function detail(root, params, name, shown) {
  const path = `/consumers/${enc(name)}`;
  const c = await object(root, path, `Consumer ${name}`, '#/consumers');
  if (!c) return;
  const again = secret => redraw(root, r => detail(r, params, name, secret), params);
  root.append(heading(`Consumer ${c.name}`), h('p', {}, link('#/consumers', '← All consumers'), ' · ',
    link(`#/subscriptions?consumer=${enc(c.name)}`, 'Subscriptions')));
  // A new key's secret: only in the answer to its creation, shown here once.
  if (shown) root.append(section('New key', secretOnce(`Key ${shown.prefix} for ${c.name}`, shown.key)));
  const keys = await load(() => all(`${path}/keys`));
  root.append(section('Keys', keys instanceof Node ? keys : grid([
    { label: 'Prefix', value: k => h('code', {}, k.prefix) },
    { label: 'Label', value: k => k.label || '' },
    { label: 'Created', value: k => fmt.time(k.created_at) },
    { label: 'Expires', value: k => (k.expires_at ? fmt.time(k.expires_at) : 'never') },
    { label: 'State', value: k => badge(keyState(k)) },
    { label: 'Models', value: k => (k.allowed_models || []).join(', ') || 'any' },
    { label: 'Actions', value: k => (writes() && !k.revoked_at ? button(`Revoke ${k.prefix}`, async () => {
      if (!(await confirmDialog(`Revoke key ${k.prefix}? Calls with it are refused from now on.`))) return;
      await api('DELETE', `${path}/keys/${k.id}`);
      toast(`Key ${k.prefix} revoked`);
      await again();
    }, 'danger small') : '') },
  ], keys, { empty: 'No keys yet.', caption: `Keys of ${c.name}` })));
  if (!writes()) return;
  root.append(section('Create a key', form([
    { name: 'label', label: 'Label', placeholder: 'ci' },
    { name: 'expires_at', label: 'Expires (empty: never)', type: 'datetime-local' },
    { name: 'allowed_models', label: 'AI models it may use (comma separated, empty: any)' },
  ], async v => {
    const body = compact({ label: v.label });
    if (v.expires_at) body.expires_at = Math.floor(new Date(v.expires_at).getTime() / 1000); // Unix seconds
    const models = (v.allowed_models || '').split(',').map(s => s.trim()).filter(Boolean);
    if (models.length) body.allowed_models = models;
    const k = await api('POST', `${path}/keys`, body);
    await again({ prefix: k.prefix, key: k.key });
  }, { submit: 'Create key' })));
}

export default {
  id: 'consumers',
  title: 'Consumers',
  roles: ['admin', 'team_admin', 'developer', 'consumer'],
  async render(root, params) {
    const name = params.path && params.path[0];
    if (name) await detail(root, params, decodeURIComponent(name), null);
    else await list(root, params);
  },
};
