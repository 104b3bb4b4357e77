// Pieces the management pages share: whole lists, headings, sections, error notices that show
// the admin API's message (never a stack), and id-to-name maps for the rows that carry ids.
import { api, session, ApiError } from '../api.js';
import { h, table } from '../ui.js';

/** Every item of a collection (pages of 1000 followed through next_cursor, at most 10 pages). */
export async function all(path) {
  const items = [];
  let cursor = null;
  for (let n = 0; n < 10; n++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api('GET', `${path}${sep}limit=1000${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
    items.push(...(page.items || []));
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return items;
}

/** The message to show for a failure: the admin API's own words, else a plain sentence. */
export function message(e) {
  if (e instanceof ApiError) return e.message || `the admin API answered ${e.status}`;
  return 'Something went wrong; the browser console has the details.';
}

/** ui.table, stacked as label / value pairs on a phone (style.css: .table-wrap.stack). */
export function grid(columns, rows, opts) {
  const t = table(columns, rows, opts);
  t.classList.add('stack');
  return t;
}

/** api() for a form's write: the admin API names a list member's fault by its index
 * (targets[0], methods[1]) and a scope by its kind (applies_to.service); the form has one
 * field for each, so the message is shown next to that field. */
export async function write(method, path, body) {
  try {
    return await api(method, path, body);
  } catch (e) {
    if (e.field) e.field = e.field.replace(/\[\d+\]$/, '').replace(/^applies_to\..+$/, 'applies_to.target');
    throw e;
  }
}

/** A notice in the page for an answer that is not the normal one (403, 404, anything else). */
export function notice(e) {
  if (!(e instanceof ApiError)) console.warn(e);
  return h('div', { class: 'panel page-error notice', role: 'alert' }, h('p', {}, message(e)));
}

/** One object of a sub-page (#/<page>/<name>), or null after drawing why it cannot be shown
 * (404 for one the caller may not see) with a link back to the list. */
export async function object(root, path, title, back) {
  try {
    return await api('GET', path);
  } catch (e) {
    root.append(heading(title), notice(e), h('p', {}, link(back, 'Back to the list')));
    return null;
  }
}

/** What a page is for, in one sentence under the shell's <h1>; a sub-page (one object) adds
 * its own <h2> title. */
export function heading(title, lead) {
  return h('div', { class: 'page-head' }, title ? h('h2', {}, title) : '', lead ? h('p', { class: 'muted' }, lead) : '');
}

/** A state as a badge: good states green, refused or failed ones red, waiting ones amber. */
export function badge(state) {
  const tone = { active: 'ok', up: 'ok', published: 'ok', approved: 'ok', pending: 'warn', deprecated: 'warn',
    degraded: 'warn', unknown: 'warn', rejected: 'bad', refused: 'bad', down: 'bad', ejected: 'bad', revoked: 'bad',
    expired: 'bad', retired: 'bad', cancelled: '' }[state];
  return h('span', { class: ['badge', tone] }, state);
}

let sectionSeq = 0;
/** A titled section of a page (h2, labelled for assistive technology). */
export function section(title, ...children) {
  const id = `sec-${++sectionSeq}`;
  return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

/** Runs load() and shows its result, or the notice for its failure, in place of a placeholder. */
export async function load(fn) {
  try {
    return await fn();
  } catch (e) {
    return notice(e);
  }
}

export function role() {
  const s = session();
  return s ? s.role : null;
}

export const isAdmin = () => role() === 'admin';
/** Roles that manage a team's objects beyond consumers: admins and team admins. */
export const manages = () => role() === 'admin' || role() === 'team_admin';

/** Splits what was typed into a list: one item a line or comma, blanks left out. */
export function lines(text) {
  return String(text || '').split(/[\n,]/).map(s => s.trim()).filter(Boolean);
}

/** A hash link inside the console. */
export function link(hash, text) {
  return h('a', { href: hash }, text);
}

/** A button that runs fn, reporting its failure as a toast-free inline notice next to it. */
export function button(label, fn, cls = '') {
  const b = h('button', { type: 'button', class: cls }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    const old = b.parentNode && b.parentNode.querySelector(':scope > .notice');
    if (old) old.remove();
    try {
      await fn();
    } catch (e) {
      b.after(notice(e));
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

/** {id: name} for a collection the caller may read (empty when it may not). */
export async function names(path) {
  try {
    const map = {};
    for (const o of await all(path)) map[o.id] = o.name;
    return map;
  } catch {
    return {};
  }
}

/** Team choices for a form: admins pick any team, others write to their own. */
export async function teamOptions() {
  if (!isAdmin()) return null;
  const teams = await all('/teams');
  return teams.map(t => ({ value: t.name, label: t.name }));
}

/** Builds a body from form values, leaving out the empty ones. */
export function compact(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (v !== '' && v !== undefined && v !== null) out[k] = v;
  return out;
}

/** Draws a page into root afresh (after a write), keeping the reader where they were: the
 * old height is held while the new content is fetched, so the page does not jump. */
export async function redraw(root, draw, params) {
  const y = window.scrollY;
  root.style.minHeight = `${root.offsetHeight}px`;
  root.replaceChildren();
  try {
    await draw(root, params);
  } finally {
    root.style.minHeight = '';
    window.scrollTo(0, y);
  }
}
