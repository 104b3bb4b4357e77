// Users: create with a role, change a role, disable and enable, set a password, delete. Admins manage
// everyone; team admins their team's users (never admins).
import { api } from '../api.js';
import { h, form, toast, modal, confirmDialog } from '../ui.js';
import { all, heading, section, load, button, names, teamOptions, compact, redraw, isAdmin, role, grid } from './common.js';
import { session } from '../api.js';

const enc = encodeURIComponent;
const ROLES = ['team_admin', 'developer', 'consumer'];

function passwordDialog(u) {
  return modal(`Password for ${u.name}`, form([
    { name: 'password', label: 'New password', type: 'password', required: true, autocomplete: 'new-password' },
  ], async v => {
    await api('PATCH', `/users/${enc(u.name)}`, { password: v.password });
    toast(`Password of ${u.name} set`);
    document.querySelector('dialog[open]')?.close();
  }, { submit: 'Set password' }), {
    onOpen: (close, dlg) => {
      dlg.addEventListener('close', () => close());
      dlg.append(h('div', { class: 'actions' }, h('button', { type: 'button', on: { click: () => close() } }, 'Cancel')));
      dlg.querySelector('input')?.focus();
    },
  });
}

function roleSelect(u, again) {
  if (u.role === 'admin' || (session() && session().name === u.name)) return u.role;
  const sel = h('select', { 'aria-label': `Role of ${u.name}` },
    ROLES.map(r => h('option', { value: r, selected: u.role === r }, r)));
  sel.addEventListener('change', async () => {
    try {
      await api('PATCH', `/users/${enc(u.name)}`, { role: sel.value });
      toast(`${u.name} is now ${sel.value}`);
    } catch (e) {
      toast(e.message, { error: true });
    }
    await again();
  });
  return sel;
}

async function draw(root, params) {
  const again = () => redraw(root, draw, params);
  const teams = await names('/teams');
  root.append(heading(null, isAdmin() ? 'Everyone who signs in to the console or holds an admin token.' : 'The users of your team.'));
  const rows = await load(() => all('/users'));
  const me = session() && session().name;
  root.append(section('All users', rows instanceof Node ? rows : grid([
    { label: 'Name', value: u => u.name },
    { label: 'Team', value: u => teams[u.team_id] || (u.team_id ? String(u.team_id) : '—') },
    { label: 'Role', value: u => roleSelect(u, again) },
    { label: 'State', value: u => (u.disabled ? 'disabled' : 'enabled') },
    { label: 'Actions', value: u => h('div', { class: 'row-actions' },
      button(`Password for ${u.name}`, () => passwordDialog(u), 'small'),
      ...(u.name === me || (u.role === 'admin' && !isAdmin()) ? [] : [
        button(u.disabled ? `Enable ${u.name}` : `Disable ${u.name}`, async () => {
          await api('PATCH', `/users/${enc(u.name)}`, { disabled: !u.disabled });
          toast(`${u.name} ${u.disabled ? 'enabled' : 'disabled'}`);
          await again();
        }, 'small'),
        button(`Delete ${u.name}`, async () => {
          if (!(await confirmDialog(`Delete user ${u.name}? Their sessions and tokens stop working.`))) return;
          await api('DELETE', `/users/${enc(u.name)}`);
          toast(`User ${u.name} deleted`);
          await again();
        }, 'danger small'),
      ])) },
  ], rows, { empty: 'No users.', caption: 'Users' })));
  const teamOpts = await load(teamOptions);
  const roles = isAdmin() ? ['admin', ...ROLES] : ROLES;
  const fields = [
    { name: 'name', label: 'Name', required: true, autocomplete: 'off' },
    { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'new-password' },
    { name: 'role', label: 'Role', type: 'select', options: roles, value: 'developer' },
  ];
  if (Array.isArray(teamOpts)) fields.splice(2, 0, { name: 'team', label: 'Team (none for an admin)', type: 'select', options: [{ value: '', label: '—' }, ...teamOpts] });
  root.append(section('New user', form(fields, async v => {
    await api('POST', '/users', compact(v));
    toast(`User ${v.name} created`);
    await again();
  }, { submit: 'Create user' })));
}

export default { id: 'users', title: 'Users', roles: ['admin', 'team_admin'], render: draw };
