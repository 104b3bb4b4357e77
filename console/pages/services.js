// Services and their APIs: the list, one service's settings, its APIs, its releases (draft,
// publish, rollback, release requests) and its OpenAPI document (import and export).
import { api, apiUrl } from '../api.js';
import { h, form, toast, confirmDialog, fmt } from '../ui.js';
import { all, heading, section, load, object, lines, link, button, names, teamOptions, compact, redraw, role, grid, write } from './common.js';

const enc = encodeURIComponent;
const writes = () => ['admin', 'team_admin', 'developer'].includes(role());

async function list(root, params) {
  const teams = await names('/teams');
  const rows = await load(() => all('/services'));
  root.append(heading(null, 'REST, AI and prompt services, and the APIs that route to them.'));
  root.append(section('All services', rows instanceof Node ? rows : grid([
    { label: 'Name', value: s => link(`#/services/${enc(s.name)}`, s.name) },
    { label: 'Kind', value: s => s.kind },
    { label: 'Team', value: s => teams[s.team_id] || String(s.team_id ?? '—') },
    { label: 'Upstream', value: s => (s.kind === 'ai' ? (s.models || []) : (s.targets || [])).join(', ') },
    { label: 'Approval', value: s => s.approval || 'auto' },
    { label: 'Origin', value: s => (s.read_only ? 'configuration file' : 'admin API') },
  ], rows, { empty: 'No services yet.', caption: 'Services' })));
  if (writes()) root.append(section('New service', await createForm(root, params)));
}

async function createForm(root, params) {
  const teamOpts = await load(teamOptions);
  const fields = [
    { name: 'name', label: 'Name', required: true },
    { name: 'kind', label: 'Kind', type: 'select', options: [{ value: 'rest', label: 'REST' }, { value: 'ai', label: 'AI' }], value: 'rest' },
    { name: 'targets', label: 'Targets (REST: one URL a line)', type: 'textarea', rows: 2, placeholder: 'http://10.0.0.5:8080' },
    { name: 'models', label: 'Models (AI: one model a line)', type: 'textarea', rows: 2 },
    { name: 'approval', label: 'Subscriptions', type: 'select', options: [{ value: 'auto', label: 'approved at once (auto)' }, { value: 'manual', label: 'need approval (manual)' }], value: 'auto' },
  ];
  if (Array.isArray(teamOpts)) fields.splice(1, 0, { name: 'team', label: 'Team', type: 'select', options: teamOpts, required: true });
  return form(fields, async v => {
    const body = compact({ name: v.name, team: v.team, kind: v.kind, approval: v.approval });
    if (v.kind === 'ai') body.models = lines(v.models);
    else body.targets = lines(v.targets);
    const s = await write('POST', '/services', body);
    toast(`Service ${s.name} created`);
    location.hash = `#/services/${enc(s.name)}`;
  }, { submit: 'Create service' });
}

async function detail(root, params, name) {
  const path = `/services/${enc(name)}`;
  const svc = await object(root, path, `Service ${name}`, '#/services');
  if (!svc) return;
  const again = () => redraw(root, r => detail(r, params, name), params);
  root.append(heading(`Service ${svc.name}`, `${svc.kind === 'ai' ? 'AI' : 'REST'} service${svc.read_only ? ', declared by the configuration file (read-only here)' : ''}.`));
  root.append(h('p', {}, link('#/services', '← All services')));
  root.append(section('Settings', settings(svc, path, again)));
  root.append(section('APIs', await apis(svc, path, again)));
  if (!svc.read_only) root.append(section('Releases', await releases(svc, path, again)));
  if (svc.kind !== 'ai') root.append(section('OpenAPI document', openapi(svc, path, again)));
}

function settings(svc, path, again) {
  const ai = svc.kind === 'ai';
  const facts = h('dl', { class: 'kv' },
    h('dt', {}, ai ? 'Models' : 'Targets'), h('dd', {}, ((ai ? svc.models : svc.targets) || []).join(', ') || '—'),
    h('dt', {}, 'Subscriptions'), h('dd', {}, svc.approval === 'manual' ? 'need approval' : 'approved at once'),
    h('dt', {}, 'Updated'), h('dd', {}, fmt.time(svc.updated_at)));
  if (!writes()) return facts;
  const fields = [];
  if (!svc.read_only) fields.push(ai
    ? { name: 'models', label: 'Models (one a line)', type: 'textarea', rows: 2, value: (svc.models || []).join('\n') }
    : { name: 'targets', label: 'Targets (one URL a line)', type: 'textarea', rows: 2, value: (svc.targets || []).join('\n') });
  fields.push({ name: 'approval', label: 'Subscriptions', type: 'select', value: svc.approval || 'auto',
    options: [{ value: 'auto', label: 'approved at once (auto)' }, { value: 'manual', label: 'need approval (manual)' }] });
  const edit = form(fields, async v => {
    const body = { approval: v.approval };
    if (!svc.read_only) body[ai ? 'models' : 'targets'] = lines(ai ? v.models : v.targets);
    await write('PATCH', path, body);
    toast('Service saved');
    await again();
  }, { submit: 'Save service' });
  const del = svc.read_only ? null : button('Delete service', async () => {
    if (!(await confirmDialog(`Delete service ${svc.name}, its APIs and its releases?`))) return;
    await api('DELETE', path);
    toast(`Service ${svc.name} deleted`);
    location.hash = '#/services';
  }, 'danger');
  return h('div', {}, facts, edit, del);
}

async function apis(svc, path, again) {
  const rows = await load(() => all(`${path}/apis`));
  const box = h('div', {});
  if (rows instanceof Node) return rows;
  const ai = svc.kind === 'ai';
  box.append(grid([
    { label: 'Name', value: a => a.name },
    { label: 'Path prefix', value: a => h('code', {}, a.path_prefix) },
    { label: 'Methods', value: a => (a.methods || []).join(' ') || 'any' },
    { label: 'Auth', value: a => a.auth || 'key' },
    { label: 'State', value: a => (a.lifecycle && a.lifecycle.state) || 'published' },
    { label: 'OpenAPI', value: a => (a.openapi ? `${a.openapi.operations} operations${a.validate ? ', validated' : ''}` : '—') },
    { label: 'Actions', value: a => (writes() && !svc.read_only ? button(`Delete ${a.name}`, async () => {
      if (!(await confirmDialog(`Delete API ${a.name}?`))) return;
      await api('DELETE', `${path}/apis/${enc(a.name)}`);
      toast(`API ${a.name} deleted`);
      await again();
    }, 'danger small') : '') },
  ], rows, { empty: 'No APIs yet: a service is reached through its APIs.', caption: `APIs of ${svc.name}` }));
  if (writes() && !svc.read_only) {
    box.append(h('h3', {}, 'New API'), form([
      { name: 'name', label: 'Name', required: true, placeholder: 'v1' },
      { name: 'path_prefix', label: 'Path prefix', required: true, placeholder: ai ? `/${svc.name}/` : '/orders/' },
      { name: 'methods', label: 'Methods (comma separated, empty: any)', placeholder: 'GET, POST' },
      { name: 'auth', label: 'Callers', type: 'select', value: 'key', options: [{ value: 'key', label: 'need a key (key)' }, { value: 'none', label: 'anyone (none)' }] },
    ], async v => {
      const body = compact({ name: v.name, path_prefix: v.path_prefix, auth: v.auth });
      const m = lines(v.methods).map(s => s.toUpperCase());
      if (m.length) body.methods = m;
      await write('POST', `${path}/apis`, body);
      toast(`API ${v.name} created`);
      await again();
    }, { submit: 'Create API' }));
  }
  return box;
}

function diffView(diff) {
  if (!diff) return h('p', { class: 'muted' }, 'No differences.');
  return h('div', { class: 'diff' },
    h('p', {}, diff.summary || 'No differences.'),
    h('details', {}, h('summary', {}, 'Details'), h('pre', { class: 'code' }, JSON.stringify(diff, null, 2))));
}

async function releases(svc, path, again) {
  const box = h('div', {});
  const draft = await load(() => api('GET', `${path}/draft`));
  if (draft instanceof Node) box.append(draft);
  else {
    box.append(h('h3', {}, 'Draft'),
      h('p', {}, draft.current_release ? `Served: release ${draft.current_release}. ` : 'Never published: the gateway serves the rows as they are. ',
        draft.changed ? 'The draft has changes:' : 'The draft equals what is served.'),
      draft.changed ? diffView(draft.diff) : '');
    if (writes() && (draft.changed || !draft.current_release)) {
      box.append(form([{ name: 'note', label: 'Release note' }], async v => {
        const r = await api('POST', `${path}/releases`, compact({ note: v.note }));
        toast(r.number ? `Release ${r.number} published` : 'Release requested: a team admin decides');
        await again();
      }, { submit: 'Publish draft' }));
    }
  }
  const rels = await load(() => all(`${path}/releases`));
  box.append(h('h3', {}, 'History'));
  if (rels instanceof Node) box.append(rels);
  else {
    const current = draft && !(draft instanceof Node) ? draft.current_release : null;
    box.append(grid([
      { label: 'Release', value: r => String(r.number) + (r.number === current ? ' (served)' : '') },
      { label: 'Note', value: r => r.note || '' },
      { label: 'By', value: r => r.created_by ?? '' },
      { label: 'When', value: r => fmt.time(r.created_at) },
      { label: 'Changes', value: r => (r.diff && r.diff.summary) || '' },
      { label: 'Actions', value: r => (writes() && r.number !== current ? button(`Roll back to ${r.number}`, async () => {
        if (!(await confirmDialog(`Publish a new release with release ${r.number}'s content?`, { danger: false }))) return;
        const n = await api('POST', `${path}/rollback`, { release: r.number });
        toast(`Release ${n.number} published (rollback to ${r.number})`);
        await again();
      }, 'small') : '') },
    ], rels, { empty: 'No releases yet.', caption: 'Releases' }));
  }
  box.append(await requests(path, again));
  return box;
}

async function requests(path, again) {
  const reqs = await load(() => all(`${path}/release-requests`));
  const box = h('div', {}, h('h3', {}, 'Release requests'));
  if (reqs instanceof Node) { box.append(reqs); return box; }
  const decides = ['admin', 'team_admin'].includes(role());
  box.append(grid([
    { label: 'Request', value: r => String(r.id) },
    { label: 'State', value: r => r.state },
    { label: 'By', value: r => r.requested_by ?? '' },
    { label: 'Changes', value: r => (r.diff && r.diff.summary) || '' },
    { label: 'Reason', value: r => r.reason || '' },
    { label: 'Actions', value: r => (decides && r.state === 'pending' ? h('div', { class: 'row-actions' },
      button('Approve', async () => {
        const rel = await api('POST', `${path}/release-requests/${r.id}/approve`);
        toast(`Release ${rel.number} published`);
        await again();
      }, 'small primary'),
      form([{ name: 'reason', label: 'Reason to refuse', required: true }], async v => {
        await api('POST', `${path}/release-requests/${r.id}/refuse`, { reason: v.reason });
        toast('Request refused');
        await again();
      }, { submit: 'Refuse' })) : '') },
  ], reqs, { empty: 'No release requests.', caption: 'Release requests' }));
  return box;
}

function openapi(svc, path, again) {
  const box = h('div', {});
  box.append(h('p', {}, 'Export: ',
    h('a', { href: apiUrl(`${path}/openapi`), download: `${svc.name}.openapi.json` }, 'JSON'), ' · ',
    h('a', { href: apiUrl(`${path}/openapi`, { format: 'yaml' }), download: `${svc.name}.openapi.yaml` }, 'YAML')));
  if (!writes() || svc.read_only) return box;
  const result = h('div', { 'aria-live': 'polite' });
  const f = form([
    { name: 'file', label: 'Upload a document (JSON or YAML)', type: 'file' },
    { name: 'document', label: 'Or paste it here', type: 'textarea', rows: 8 },
    { name: 'api', label: 'API to keep it on', placeholder: 'openapi' },
    { name: 'path_prefix', label: 'Path prefix (new API)', placeholder: 'from the first server URL' },
    { name: 'validate', label: 'Validate requests against it', type: 'checkbox' },
    { name: 'dry_run', label: 'Only show what would change (dry run)', type: 'checkbox', value: true },
  ], async (v, el) => {
    const file = el.controls.file.files && el.controls.file.files[0];
    const text = file ? await file.text() : v.document;
    if (!text) throw Object.assign(new Error('Paste a document or choose a file.'), { field: 'document' });
    const q = new URLSearchParams(compact({ api: v.api, path_prefix: v.path_prefix }));
    if (v.dry_run) q.set('dry_run', 'true');
    if (v.validate) q.set('validate', 'true');
    const r = await api('POST', `${path}/openapi?${q}`, text);
    result.replaceChildren(h('p', {}, `${r.dry_run ? 'Would import' : 'Imported'} ${r.operations} operations into API ${r.api}` +
      `: ${r.added.length} added, ${r.removed.length} removed, ${r.changed.length} changed, ${r.unchanged} unchanged.`),
    r.added.length || r.removed.length || r.changed.length ? h('pre', { class: 'code' }, JSON.stringify({ added: r.added, removed: r.removed, changed: r.changed }, null, 2)) : '');
    if (!r.dry_run) { toast('OpenAPI document imported'); await again(); }
  }, { submit: 'Import' });
  box.append(h('h3', {}, 'Import'), f, result);
  return box;
}

export default {
  id: 'services',
  title: 'Services',
  roles: ['admin', 'team_admin', 'developer'],
  async render(root, params) {
    const name = params.path && params.path[0];
    if (name) await detail(root, params, decodeURIComponent(name));
    else await list(root, params);
  },
};
