// Doctor: diagnose a target from the gateway's side (POST /doctor), shown as `portico doctor` prints it.
import { h, form, clear } from '../ui.js';
import { api } from '../api.js';

function what(doc) {
  const t = doc.target_parsed || {};
  const hp = t.host ? (t.host.includes(':') ? `[${t.host}]:${t.port ?? '?'}` : `${t.host}:${t.port ?? '?'}`) : null;
  if (doc.mode === 'listen') return `can a server listen on ${t.host ? hp : `port ${t.port ?? '?'} (every address)`}?`;
  if (doc.mode === 'connect' && hp) return `connecting to ${hp}`;
  return `connecting to ${doc.target}`;
}

function lines(text, first, rest, out) {
  String(text || '').split('\n').forEach((l, i) => { if (l !== '' || i === 0) out.push((i ? rest : first) + l); });
}

/** The report as the command line's text output (report.c), from the JSON document. */
export function reportText(doc) {
  const out = [`portico doctor: ${what(doc)}`, ''];
  const checks = doc.checks || [];
  const root = doc.root_cause;
  const rootCheck = root && checks.find(c => c.id === root.check);
  if (!root) {
    out.push('Most likely cause: none' + (doc.exit_code === 3 ? '; but the checks that decide could not run (see below)' : '; no check found a problem'), '');
  } else {
    out.push(`Most likely cause: ${root.summary || rootCheck?.title || root.check}`);
    out.push(`  (${root.id || 'unnamed'}, found by the ${root.check} check)`);
    const conn = checks.find(c => c.id === 'connect' && c.id !== root.check && c.status !== 'skip');
    const details = rootCheck?.details || [];
    if (details.length || conn) {
      out.push('  Evidence:');
      details.forEach(d => out.push('    - ' + d));
      if (conn && conn.summary) out.push('    - connect: ' + conn.summary);
    }
    if (root.remedy) { out.push('  Fix:'); lines(root.remedy, '    - ', '    - ', out); }
    out.push('');
  }
  const others = checks.filter(c => c !== rootCheck && c.remedy && !(root && c.id === 'connect') &&
    (c.status === 'fail' || c.status === 'warn') && !(root && c.cause && root.id && c.cause === root.id));
  if (others.length) {
    out.push('Also found:');
    others.forEach(c => { out.push(`  ${c.id}: ${c.summary || ''}`); lines(c.remedy, '    fix: ', '         ', out); });
    out.push('');
  }
  out.push('Checks:');
  if (!checks.length) out.push('  (none of the selected checks applies to this kind of target; see --list-checks)');
  const n = { fail: 0, warn: 0, pass: 0, info: 0, skip: 0 };
  for (const c of checks) {
    n[c.status] = (n[c.status] || 0) + 1;
    const word = c.status === 'fail' ? 'FAIL' : c.status;
    out.push(`  ${word.padEnd(4)}  ${c.id.padEnd(13)} ${(c.status === 'skip' ? c.skip_reason : c.summary) || ''}`);
  }
  out.push('');
  out.push(`Verdict: ${doc.verdict}${root ? ` (${root.id || 'unnamed'})` : ''}; ${n.fail} failed, ${n.warn} warning${n.warn === 1 ? '' : 's'}, ` +
    `${n.pass} passed, ${n.info} info, ${n.skip} skipped; ${Math.round(doc.duration_ms || 0)} ms; exit ${doc.exit_code}`);
  return out.join('\n');
}

export default {
  id: 'doctor',
  title: 'Doctor',
  roles: ['admin'],
  render: async (root, { query }) => {
    const result = h('div', { class: 'doctor-result', 'aria-live': 'polite' });
    const f = form([
      { name: 'target', label: 'Target', required: true, value: query.get('target') || '',
        placeholder: 'localhost:8080, https://api.example.com, mcp+http://...',
        hint: 'Checked from the gateway host: the port, name resolution, listeners, the connection, TLS and the protocol.' },
      { name: 'listen', label: 'Can a server listen here? (instead of connecting)', type: 'checkbox' },
      { name: 'timeout_ms', label: 'Timeout per probe (ms)', type: 'number', min: 50, max: 10000, placeholder: 'default' },
    ], async v => {
      clear(result, h('p', { class: 'muted' }, 'Running the checks…'));
      const body = { target: v.target, listen: !!v.listen };
      if (v.timeout_ms !== undefined) body.timeout_ms = v.timeout_ms;
      try {
        const doc = await api('POST', '/doctor', body);
        const badge = doc.verdict === 'healthy' ? 'ok' : doc.verdict === 'warning' ? 'warn' : 'bad';
        clear(result,
          h('h2', null, 'Report ', h('span', { class: `badge ${badge}` }, doc.verdict)),
          h('pre', { class: 'report', tabindex: '0', 'aria-label': 'Doctor report' }, reportText(doc)),
          h('details', null, h('summary', null, 'The report as JSON'), h('pre', null, JSON.stringify(doc, null, 2))));
      } catch (e) {
        result.replaceChildren();
        throw e;
      }
    }, { submit: 'Diagnose' });
    root.append(f, result);
  },
};
