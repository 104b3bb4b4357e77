// MCP servers: what the configuration file declares, with each server's health, call counts
// and tools (admins; GET /admin/v1/mcp-servers and /mcp-servers/{name}/tools). The tools are
// those the gateway listed from the server after its handshake and at each list change,
// under the server's own names.
import { h, fmt } from '../ui.js';
import { api } from '../api.js';
import { all, heading, section, load, badge, grid } from './common.js';

const enc = encodeURIComponent;

/* An input schema's top-level parameters in one line: "a: number (required), b: string". */
function params(schema) {
  const props = (schema && schema.properties) || {};
  const need = new Set((schema && schema.required) || []);
  const names = Object.keys(props);
  if (!names.length) return 'none';
  return names.map(n => `${n}: ${props[n].type || 'any'}${need.has(n) ? ' (required)' : ''}`).join(', ');
}

/* The whole schema, folded away until asked for. */
function schema(t) {
  return h('details', { class: 'schema' }, h('summary', null, `Input schema of ${t.name}`),
    h('pre', { tabindex: '0' }, JSON.stringify(t.inputSchema ?? {}, null, 2)));
}

async function tools(server) {
  const r = await api('GET', `/mcp-servers/${enc(server.name)}/tools`);
  if (!r.listed_at) {
    return h('p', { class: 'empty' }, server.status === 'up'
      ? 'The gateway has not listed this server\'s tools yet.'
      : 'Not listed: the server has not completed a handshake with the gateway.');
  }
  return h('div', null, h('p', { class: 'muted' }, `Listed ${fmt.ago(r.listed_at)} (${fmt.time(r.listed_at)}).`), grid([
    { label: 'Tool', value: t => h('code', {}, t.name) },
    { label: 'Description', value: t => t.description || '' },
    { label: 'Parameters', value: t => params(t.inputSchema) },
    { label: 'Schema', value: t => schema(t) },
  ], r.items, { empty: 'The server lists no tools.', caption: `Tools of ${server.name}` }));
}

export default {
  id: 'mcp',
  title: 'MCP servers',
  roles: ['admin'],
  async render(root) {
    root.append(heading(null, 'Declared by the configuration file (mcp.servers) and read-only here. A server is up while the gateway\'s session with it is open.'));
    const rows = await load(() => all('/mcp-servers'));
    root.append(section('Servers', rows instanceof Node ? rows : grid([
      { label: 'Name', value: m => m.name },
      { label: 'Status', value: m => badge(m.status) },
      { label: 'Transport', value: m => m.transport },
      { label: 'Runs or calls', value: m => h('code', {}, m.url || m.command || '') },
      { label: 'Keys', value: m => (m.auth_key ? 'needs a key' : 'open') },
      { label: 'Tools', value: m => (m.tools === null || m.tools === undefined ? 'not listed' : fmt.num(m.tools)) },
      { label: 'Calls', value: m => (m.calls ? `${fmt.num(m.calls.ok)} ok, ${fmt.num(m.calls.error)} failed, ${fmt.num(m.calls.timeouts)} timed out` : '—') },
      { label: 'Timeout', value: m => fmt.ms(m.timeout_ms) },
    ], rows, { empty: 'The configuration file declares no MCP server.', caption: 'MCP servers' })));
    if (rows instanceof Node) return;
    for (const m of rows) root.append(section(`Tools of ${m.name}`, await load(() => tools(m))));
  },
};
