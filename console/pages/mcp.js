// MCP servers: what the configuration file declares, with each server's health and call
// counts (admins; GET /admin/v1/mcp-servers). Tools are listed by the servers themselves
// through the gateway's /mcp endpoints, not by the admin API.
import { h, fmt } from '../ui.js';
import { all, heading, section, load, badge, grid } from './common.js';

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
      { label: 'Calls', value: m => (m.calls ? `${fmt.num(m.calls.ok)} ok, ${fmt.num(m.calls.error)} failed, ${fmt.num(m.calls.timeouts)} timed out` : '—') },
      { label: 'Timeout', value: m => fmt.ms(m.timeout_ms) },
    ], rows, { empty: 'The configuration file declares no MCP server.', caption: 'MCP servers' })));
    root.append(h('p', { class: 'muted' }, 'Each server\'s tools are listed by the server itself: ask /mcp/<server> with tools/list, as an MCP client does.'));
  },
};
