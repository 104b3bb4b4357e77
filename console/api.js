// The console's only way to the server: the admin API under /admin/v1, with the session cookie.
// A 401 opens the sign-in dialog over the current page (nothing typed is lost) and retries.

export class ApiError extends Error {
  constructor(status, code, field, message) {
    super(message || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code || 'http_' + status;
    this.field = field || null;
  }
}

let current = null;        // {name, role, team} of the signed-in user
let csrf = null;           // the session's CSRF token, sent on every write
let expiresAt = null;
let signInHandler = null;  // set by the shell: () => Promise that resolves once signed in again
let pendingSignIn = null;  // one dialog for many concurrent 401s
const listeners = new Set();

const BASE = '/admin/v1';

/** The signed-in user, or null. */
export function session() { return current; }

/** When the current session ends at the latest (ISO string), or null. */
export function sessionExpiresAt() { return expiresAt; }

/** The shell registers how to ask for credentials again when a call answers 401. */
export function setSignInHandler(fn) { signInHandler = fn; }

/** Called with the new user (or null) whenever the signed-in user changes. */
export function onSessionChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

function adopt(body) {
  const before = current && current.name;
  if (body) {
    current = { name: body.user.name, role: body.user.role, team: body.user.team ?? null };
    if (body.csrf_token) csrf = body.csrf_token;
    expiresAt = body.expires_at || null;
  } else {
    current = null; csrf = null; expiresAt = null;
  }
  if ((current && current.name) !== before) listeners.forEach(fn => fn(current));
  return current;
}

async function send(method, path, body, headers) {
  const h = { Accept: 'application/json', ...headers };
  const init = { method, credentials: 'same-origin', headers: h, cache: 'no-store' };
  if (body !== undefined && body !== null) {
    h['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrf) h['X-CSRF-Token'] = csrf;
  return fetch(BASE + path, init);
}

async function parse(res) {
  if (res.status === 204 || res.status === 205) return null;
  const type = res.headers.get('Content-Type') || '';
  const text = await res.text();
  if (type.includes('json') && !type.includes('ndjson')) {
    try { return text ? JSON.parse(text) : null; } catch { return text; }
  }
  return text;
}

async function toError(res) {
  let payload = null;
  try { payload = await res.json(); } catch { /* not JSON: the status says enough */ }
  const e = (payload && payload.error) || {};
  return new ApiError(res.status, e.code, e.field, e.message || res.statusText);
}

/**
 * Call the admin API. `path` is relative to /admin/v1. Resolves to the parsed JSON (null for
 * 204; text for non-JSON answers such as exports); rejects with ApiError. On 401 (other than for
 * the sign-in call itself) asks for credentials again and retries once signed in.
 * opts.noSignIn: reject on 401 instead of asking; opts.headers: extra request headers.
 */
export async function api(method, path, body, opts = {}) {
  let refreshed = false;
  for (;;) {
    const res = await send(method, path, body, opts.headers);
    if (res.ok) return parse(res);
    if (res.status === 401 && !opts.noSignIn && signInHandler && !path.startsWith('/sessions')) {
      await askSignIn();
      continue;
    }
    const err = await toError(res);
    // Another tab signed in again (a new session, a new CSRF token): learn it, retry once.
    if (err.code === 'csrf_failed' && !refreshed && !path.startsWith('/sessions')) {
      refreshed = true;
      if (await loadSession()) continue;
    }
    throw err;
  }
}

function askSignIn() {
  if (!pendingSignIn) {
    pendingSignIn = Promise.resolve(signInHandler()).finally(() => { pendingSignIn = null; });
  }
  return pendingSignIn;
}

/** Sign in with {user, password} or {token}; resolves to the user. */
export async function signIn(credentials) {
  const body = await api('POST', '/sessions', credentials, { noSignIn: true });
  return adopt(body);
}

/** Ask the server who is signed in (no dialog); resolves to the user or null. */
export async function loadSession() {
  try {
    return adopt(await api('GET', '/sessions/current', undefined, { noSignIn: true }));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return adopt(null);
    throw e;
  }
}

/** End the session on the server and forget it here. */
export async function signOut() {
  try {
    await api('DELETE', '/sessions/current', undefined, { noSignIn: true });
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
  } finally {
    adopt(null);
  }
}

/** A URL under /admin/v1 with query parameters (empty values left out), for links such as exports. */
export function apiUrl(path, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return BASE + path + (s ? '?' + s : '');
}
