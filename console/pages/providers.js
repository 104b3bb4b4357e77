// AI providers and models: what the configuration file declares (providers for admins, with
// their keys only counted), the model catalog every role may read, and the AI services made
// from it.
import { api } from '../api.js';
import { h } from '../ui.js';
import { all, heading, section, load, link, isAdmin, grid } from './common.js';

const enc = encodeURIComponent;

async function providers() {
  if (!isAdmin()) return h('p', { class: 'muted' }, 'Providers are shown to admins only.');
  const rows = await load(() => all('/providers'));
  if (rows instanceof Node) return rows;
  return grid([
    { label: 'Name', value: p => p.name },
    { label: 'Type', value: p => p.type },
    { label: 'Base URL', value: p => h('code', {}, p.base_url || '') },
    // The API never sends a key: only how many there are.
    { label: 'Keys', value: p => (p.keys ? `${p.keys} configured (never shown)` : 'none') },
  ], rows, { empty: 'The configuration file declares no AI provider.', caption: 'AI providers' });
}

async function models() {
  const rows = await load(() => all('/models'));
  if (rows instanceof Node) return rows;
  return grid([
    { label: 'Model', value: m => m.name },
    { label: 'Served by', value: m => (m.targets || []).map(t => `${t.provider}/${t.model}${t.weight && m.targets.length > 1 ? ` (weight ${t.weight})` : ''}`).join(', ') },
    { label: 'Fallbacks', value: m => (m.fallbacks || []).join(', ') || '—' },
  ], rows, { empty: 'The configuration file declares no model.', caption: 'Models' });
}

async function aiServices() {
  const rows = await load(() => all('/services'));
  if (rows instanceof Node) return rows;
  return grid([
    { label: 'Service', value: s => link(`#/services/${enc(s.name)}`, s.name) },
    { label: 'Models', value: s => (s.models || []).join(', ') },
    { label: 'Origin', value: s => (s.read_only ? 'configuration file' : 'admin API') },
  ], rows.filter(s => s.kind === 'ai'), { empty: 'No AI services.', caption: 'AI services' });
}

export default {
  id: 'providers',
  title: 'Providers and models',
  roles: ['admin', 'team_admin', 'developer'],
  async render(root) {
    root.append(heading(null,
      'Declared by the configuration file and read-only here; change them in the file. Provider keys are never shown, only counted.'));
    root.append(section('Providers', await providers()));
    root.append(section('Models', await models()));
    root.append(section('AI services', await aiServices()));
  },
};
