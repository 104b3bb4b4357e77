// The console's shell: sign-in, navigation by role, hash routing, theme and sign-out.
// A page module draws into the root it is given, below the <h1> the shell draws from its title.
import { h, clear } from './ui.js';
import { ApiError, loadSession, session, setSignInHandler, signOut, onSessionChange } from './api.js';
import pages from './pages/index.js';
import signinPage, { signInDialog } from './pages/signin.js';

const THEME_KEY = 'portico-theme';
let renderSeq = 0;

function preferredTheme() {
  const saved = localStorage.getItem(THEME_KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  return window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
}

function themeToggle() {
  const b = h('button', { type: 'button', class: 'theme-toggle', 'aria-pressed': String(preferredTheme() === 'dark') }, 'Dark theme');
  b.addEventListener('click', () => {
    const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
    b.setAttribute('aria-pressed', String(next === 'dark'));
  });
  return b;
}

/** The pages the signed-in user's role may see, in navigation order. */
export function visiblePages(user = session()) {
  if (!user) return [];
  return pages.filter(p => !p.hidden && (!p.roles || p.roles.length === 0 || p.roles.includes(user.role)));
}

/** Parse location.hash: '#/<id>/<sub>...?<query>' -> {id, path, query}. */
export function parseRoute(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const pathPart = q >= 0 ? raw.slice(0, q) : raw;
  const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  const segs = pathPart.split('/').filter(Boolean).map(s => { try { return decodeURIComponent(s); } catch { return s; } });
  return { id: segs[0] || '', path: segs.slice(1), query };
}

/** A hash link to a page: link('calls', ['812'], {status: '5xx'}). */
export function link(id, path = [], query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return '#/' + [id, ...path].map(encodeURIComponent).join('/') + (s ? '?' + s : '');
}

function drawShell() {
  const user = session();
  const app = document.getElementById('app');
  const nav = h('nav', { class: 'nav', 'aria-label': 'Console' },
    h('ul', null, visiblePages(user).map(p => h('li', null, h('a', { href: '#/' + p.id, 'data-page': p.id }, p.title)))));
  const out = h('button', { type: 'button', class: 'sign-out', on: { click: doSignOut } }, 'Sign out');
  const top = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: '#/' }, 'Portico'),
    h('span', { class: 'who' }, `${user.name} (${user.role.replace('_', ' ')}${user.team ? ', ' + user.team : ''})`),
    themeToggle(), out);
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  app.className = 'app';
  clear(app, top, nav, main);
}

async function doSignOut() {
  try { await signOut(); } catch { /* the cookie is gone or the server is away: sign in again either way */ }
  location.hash = '#/';
  showSignIn();
}

function showSignIn() {
  const app = document.getElementById('app');
  app.className = 'app-signin';
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  clear(app, main);
  document.title = 'Sign in · Portico';
  signinPage.render(main, parseRoute(), { onSignedIn: () => { drawShell(); route(); } });
}

function markCurrent(id) {
  document.querySelectorAll('.nav a').forEach(a => {
    if (a.dataset.page === id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
}

function errorPanel(e) {
  const msg = e instanceof ApiError ? e.message : 'This page could not be drawn. Reload to try again.';
  return h('div', { class: 'panel page-error', role: 'alert' }, h('p', null, msg));
}

/** Draw the page the hash names (the first visible page when it names none). */
export async function route() {
  if (!session()) return showSignIn();
  const main = document.getElementById('main');
  if (!main || !document.querySelector('.nav')) drawShell();
  const r = parseRoute();
  const visible = visiblePages();
  const page = visible.find(p => p.id === r.id) || (r.id ? null : visible[0]);
  const seq = ++renderSeq;
  const target = document.getElementById('main');
  if (!page) {
    document.title = 'Not found · Portico';
    clear(target, h('h1', null, 'Not found'), h('p', null, 'There is no such page, or your role may not see it.'));
    markCurrent(null);
    return;
  }
  markCurrent(page.id);
  document.title = `${page.title} · Portico`;
  const root = h('div', { class: 'page', 'data-page': page.id });
  clear(target, h('h1', null, page.title), root);
  try {
    await page.render(root, { path: r.path, query: r.query });
  } catch (e) {
    if (seq === renderSeq) root.append(errorPanel(e));
  }
}

/* The skip link moves focus to the page without touching the hash, which names the page. */
function skipToContent(e) {
  e.preventDefault();
  document.getElementById('main')?.focus();
}

async function boot() {
  applyTheme(preferredTheme());
  document.querySelector('.skip')?.addEventListener('click', skipToContent);
  setSignInHandler(() => signInDialog({ user: session() && session().name }));
  onSessionChange(user => { if (user && document.querySelector('.nav')) { drawShell(); route(); } });
  window.addEventListener('hashchange', () => route().then(() => {
    const m = document.getElementById('main');
    if (m && session()) m.focus({ preventScroll: true });
  }));
  try {
    await loadSession();
  } catch {
    /* the server is not answering: the sign-in page says so when used */
  }
  route();
}

boot();
