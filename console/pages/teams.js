// Teams (admins): create, whether publishing needs a team admin's approval, delete.
import { api } from '../api.js';
import { h, form, toast, confirmDialog, fmt } from '../ui.js';
import { all, heading, section, load, button, redraw, grid } from './common.js';

const enc = encodeURIComponent;

async function draw(root, params) {
  const again = () => redraw(root, draw, params);
  root.append(heading(null, 'Every service, consumer and user belongs to a team.'));
  const rows = await load(() => all('/teams'));
  root.append(section('All teams', rows instanceof Node ? rows : grid([
    { label: 'Name', value: t => t.name },
    { label: 'Publishing', value: t => {
      const sel = h('select', { 'aria-label': `Publishing in team ${t.name}` },
        h('option', { value: 'none', selected: t.publish_approval !== 'team_admin' }, 'developers publish'),
        h('option', { value: 'team_admin', selected: t.publish_approval === 'team_admin' }, 'a team admin approves'));
      sel.addEventListener('change', async () => {
        try {
          await api('PATCH', `/teams/${enc(t.name)}`, { publish_approval: sel.value });
          toast(`Team ${t.name} saved`);
        } catch (e) {
          toast(e.message, { error: true });
          await again();
        }
      });
      return sel;
    } },
    { label: 'Created', value: t => fmt.time(t.created_at) },
    { label: 'Actions', value: t => button(`Delete ${t.name}`, async () => {
      if (!(await confirmDialog(`Delete team ${t.name}? Only a team that owns nothing can be deleted.`))) return;
      await api('DELETE', `/teams/${enc(t.name)}`);
      toast(`Team ${t.name} deleted`);
      await again();
    }, 'danger small') },
  ], rows, { empty: 'No teams yet.', caption: 'Teams' })));
  root.append(section('New team', form([
    { name: 'name', label: 'Name', required: true },
    { name: 'publish_approval', label: 'Publishing', type: 'select', value: 'none',
      options: [{ value: 'none', label: 'developers publish' }, { value: 'team_admin', label: 'a team admin approves' }] },
  ], async v => {
    await api('POST', '/teams', v);
    toast(`Team ${v.name} created`);
    await again();
  }, { submit: 'Create team' })));
}

export default { id: 'teams', title: 'Teams', roles: ['admin'], render: draw };
