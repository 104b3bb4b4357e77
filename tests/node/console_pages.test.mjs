// The console's management pages in headless Chromium, against a real Portico: what each role
// may reach (a consumer kept from a team admin's pages and endpoints, through the console and
// through the admin API with its own session cookie), form errors next to the field with the
// admin API's message, a key shown once, a key's expiry (set on the page, shown, an expired key
// refused by the gateway), the users page's controls (create, set a password, change a role,
// delete), an MCP server's tools with their descriptions and input schemas, releases
// published and rolled back, an OpenAPI document imported, and a quota's usage shown against
// its limit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startPortico, launchBrowser, openPage, signIn, checkA11y, screenshot, ROOT } from './console_harness.mjs';
import { HAVE_CHROMIUM, startEcho, adminApi, go, formOf, submit, press, mainText, rows, fieldError, unexpected } from './console_steps.mjs';

const skip = HAVE_CHROMIUM ? false : 'chromium is not installed';
const PW = 'a long console passphrase';
let h, echo, browser, admin;

async function setup(method, path, body) {
  const r = await adminApi(h, method, path, body);
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

before(async () => {
  if (skip) return;
  echo = await startEcho();
  // one MCP server (the tests' fixture, over stdio) for the MCP servers page
  const fixture = path.join(ROOT, 'tests/upstreams/mcp/fixture.mjs');
  h = await startPortico({
    config: `mcp:\n  servers:\n    - { name: alpha, command: "${process.execPath}", args: ["${fixture}", stdio, alpha] }`,
  });
  await setup('PATCH', '/users/admin', { password: PW });
  for (const t of ['acme', 'other']) await setup('POST', '/teams', { name: t });
  await setup('POST', '/users', { name: 'lead', password: PW, team: 'acme', role: 'team_admin' });
  await setup('POST', '/users', { name: 'buyer', password: PW, team: 'acme', role: 'consumer' });
  await setup('POST', '/services', { name: 'orders', team: 'acme', kind: 'rest', targets: [echo.url] });
  await setup('POST', '/services/orders/apis', { name: 'v1', path_prefix: '/orders/', auth: 'key' });
  await setup('POST', '/consumers', { name: 'app', team: 'acme' });
  await setup('POST', '/subscriptions', { consumer: 'app', service: 'orders' });
  browser = await launchBrowser();
  admin = await as('admin');
});

after(async () => {
  if (browser) await browser.close();
  if (h) await h.stop();
  if (echo) await echo.stop();
});

/** A page in a browser context of its own (its own cookies), signed in as user. */
async function as(user) {
  const page = await openPage(browser, `${h.adminUrl}/console/`);
  await signIn(page, h.adminUrl, user, PW);
  await page.waitForSelector('.nav');
  return page;
}

/** The admin API called from inside the page with its session cookie (and its CSRF token on
 * writes, as the console sends it); answers {status, code}. */
function fromPage(page, method, path, body, csrf = true) {
  return page.evaluate(async (m, p, b, withCsrf) => {
    const cur = await (await fetch('/admin/v1/sessions/current')).json();
    const headers = { 'Content-Type': 'application/json' };
    if (withCsrf && m !== 'GET') headers['X-CSRF-Token'] = cur.csrf_token;
    const r = await fetch('/admin/v1' + p, { method: m, headers, body: b === undefined ? undefined : JSON.stringify(b) });
    const j = await r.json().catch(() => null);
    return { status: r.status, code: j && j.error ? j.error.code : null };
  }, method, path, body, csrf);
}

const navIds = page => page.$$eval('.nav a', as => as.map(a => a.dataset.page));

test('a consumer cannot reach a team admin\'s pages or endpoints', { skip }, async () => {
  const lead = await as('lead');
  const buyer = await as('buyer');
  const leadNav = await navIds(lead), buyerNav = await navIds(buyer);
  assert.ok(leadNav.includes('users') && leadNav.includes('services'), `a team admin sees users and services (${leadNav})`);
  for (const id of ['users', 'services', 'teams', 'providers', 'mcp'])
    assert.ok(!buyerNav.includes(id), `no ${id} in a consumer's navigation (${buyerNav})`);
  assert.ok(buyerNav.includes('consumers') && buyerNav.includes('subscriptions'), 'a consumer has its own pages');

  await go(lead, '#/users');
  assert.ok((await rows(lead, 'Users')).some(r => r[0] === 'buyer'), 'the team admin\'s users page lists the team');
  await buyer.evaluate(() => { location.hash = '#/users'; });
  await buyer.waitForFunction(() => document.querySelector('main h1')?.textContent === 'Not found');
  await screenshot(buyer, 'authz-consumer-users');
  assert.equal(await buyer.$('.page[data-page="users"]'), null, 'the consumer does not get the users page');

  // the same endpoints with each one's session cookie: the team admin may, the consumer may not
  const user = n => ({ name: n, password: PW, team: 'acme', role: 'developer' });
  assert.equal((await fromPage(lead, 'POST', '/users', user('dev1'))).status, 201, 'a team admin creates a user');
  const refusals = [
    ['POST', '/users', user('dev2')],
    ['PATCH', '/users/lead', { password: 'another long passphrase' }],
    ['POST', '/services', { name: 'x', team: 'acme', kind: 'rest', targets: [echo.url] }],
    ['POST', '/services/orders/apis', { name: 'v2', path_prefix: '/v2/' }],
    ['POST', '/services/orders/releases', {}],
    ['POST', '/teams', { name: 'mine' }],
    ['POST', '/policies', { name: 'p', applies_to: { consumer: 'app' }, concurrency: 1 }],
  ];
  for (const [m, p, b] of refusals) {
    const r = await fromPage(buyer, m, p, b);
    assert.equal(`${r.status} ${r.code}`, '403 forbidden', `${m} ${p} as a consumer`);
  }
  const sub = (await adminApi(h, 'GET', '/subscriptions')).body.items[0];
  assert.equal((await fromPage(buyer, 'POST', `/subscriptions/${sub.id}/reject`, {})).status, 403, 'nor decides a subscription');
  assert.equal((await fromPage(buyer, 'GET', '/audit')).status, 403, 'nor reads the audit log');
  assert.equal((await fromPage(buyer, 'GET', '/teams/other')).status, 404, 'another team is not even there');
  const noCsrf = await fromPage(lead, 'POST', '/users', user('dev3'), false);
  assert.equal(`${noCsrf.status} ${noCsrf.code}`, '403 csrf_failed', 'a write without the CSRF token is refused');
  assert.deepEqual([...unexpected(lead), ...unexpected(buyer)], []);
  await lead.close();
  await buyer.close();
});

test('form errors show next to the field, with the admin API\'s message', { skip }, async () => {
  await go(admin, '#/services');
  let form = await formOf(admin, 'New service');
  await submit(admin, form, { name: 'bad', team: 'acme', kind: 'rest', targets: 'not a url' });
  const direct = await adminApi(h, 'POST', '/services', { name: 'bad', team: 'acme', kind: 'rest', targets: ['not a url'] });
  assert.equal(direct.status, 400);
  assert.equal(direct.body.error.field, 'targets[0]');
  assert.equal(await fieldError(form, 'targets'), direct.body.error.message, 'targets[0]\'s message is next to the targets field');
  await go(admin, '#/policies');
  form = await formOf(admin, 'New policy');
  await submit(admin, form, { name: 'bad-rate', team: 'acme', applies_to: 'consumer', 'applies_to.target': 'app', 'rate.requests': 3, 'rate.per': '1x' });
  const msg = await fieldError(form, 'rate.per');
  assert.match(msg, /duration/, `the rate's window error is next to its field (${msg})`);
  await screenshot(admin, 'policies-field-error');
  form = await formOf(admin, 'New policy');
  await submit(admin, form, { name: 'bad-target', team: 'acme', applies_to: 'service', 'applies_to.target': 'nope', 'rate.requests': '', 'rate.per': '', concurrency: 2 });
  assert.match(await fieldError(form, 'applies_to.target'), /nope|no service/, 'an unknown target is named next to it');
  const body = await admin.content();
  assert.ok(!/at .*\.js:\d+/.test(body), 'no stack trace in the page');
  assert.deepEqual(unexpected(admin), []);
});

test('a key is shown once, revoked from the page', { skip }, async () => {
  await go(admin, '#/consumers/app');
  await submit(admin, await formOf(admin, 'Create a key'), { label: 'once' });
  const key = await admin.$eval('.secret-once code.secret', c => c.textContent);
  assert.match(key, /^pk_/);
  await go(admin, '#/consumers');
  await go(admin, '#/consumers/app');
  assert.ok(!(await admin.content()).includes(key), 'the key is not in the page any more');
  const prefix = key.slice(0, 12);
  assert.ok((await rows(admin, 'Keys of app')).some(r => r[0] === prefix && r[4] === 'active'));
  await press(admin, `Revoke ${prefix}`, { confirm: true });
  assert.ok((await rows(admin, 'Keys of app')).some(r => r[0] === prefix && r[4] === 'revoked'), 'revoked');
  const code = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${key}`,
    `${h.gatewayUrl}/orders/x`]).toString();
  assert.equal(code, '401', 'the revoked key no longer passes');
  assert.deepEqual(unexpected(admin), []);
});

/** The gateway's answer to GET path with a key: {status, body}. */
async function callWithKey(key, path) {
  const r = await fetch(`${h.gatewayUrl}${path}`, { headers: { Authorization: `Bearer ${key}` } });
  return { status: r.status, body: await r.text() };
}

/** Sets a datetime-local field to the browser's local time at ms (minutes, as the field shows). */
function setLocalTime(page, form, name, ms) {
  return form.$eval(`[name="${name}"]`, (el, t) => {
    const d = new Date(t);
    const local = new Date(t - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    el.value = local;
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, ms);
}

test('a key\'s expiry: set on the page, shown, and an expired key is refused', { skip }, async () => {
  await setup('POST', '/consumers', { name: 'timed', team: 'acme' });
  await setup('POST', '/subscriptions', { consumer: 'timed', service: 'orders' });
  await go(admin, '#/consumers/timed');
  const later = Date.now() + 2 * 86400e3, earlier = Date.now() - 5 * 60e3;
  let form = await formOf(admin, 'Create a key');
  await setLocalTime(admin, form, 'expires_at', later);
  await submit(admin, form, { label: 'later' });
  const laterKey = await admin.$eval('.secret-once code.secret', c => c.textContent);
  form = await formOf(admin, 'Create a key');
  await setLocalTime(admin, form, 'expires_at', earlier);
  await submit(admin, form, { label: 'earlier' });
  const earlierKey = await admin.$eval('.secret-once code.secret', c => c.textContent);

  const stored = (await adminApi(h, 'GET', '/consumers/timed/keys')).body.items;
  const exp = label => stored.find(k => k.label === label).expires_at;
  assert.ok(Math.abs(exp('later') - later / 1000) < 60, `the later key expires when the form said (${exp('later')})`);
  assert.ok(Math.abs(exp('earlier') - earlier / 1000) < 60, `the earlier key too (${exp('earlier')})`);
  const table = await rows(admin, 'Keys of timed');
  const row = label => table.find(r => r[1] === label);
  assert.equal(row('later')[4], 'active', 'a key before its expiry is active');
  assert.equal(row('earlier')[4], 'expired', 'a key past its expiry is shown expired');
  for (const label of ['later', 'earlier']) {
    const shown = await admin.evaluate(t => new Date(t * 1000).toLocaleString(), exp(label));
    assert.notEqual(row(label)[3], 'never', `${label}: the expiry is shown`);
    assert.ok(row(label)[3].length > 0 && shown.length > 0);
  }
  await screenshot(admin, 'consumer-key-expiry');

  // the gateway learns of new keys from the store's change: wait until it knows both
  let ok, refused;
  for (let i = 0; i < 200; i++) {
    [ok, refused] = [await callWithKey(laterKey, '/orders/x'), await callWithKey(earlierKey, '/orders/x')];
    if (ok.status === 200 && /has expired/.test(refused.body)) break;
    await new Promise(r => setTimeout(r, 25));
  }
  assert.equal(ok.status, 200, 'the key before its expiry passes');
  assert.equal(refused.status, 401, 'the expired key is refused');
  assert.match(refused.body, /has expired/, `as expired, not unknown (${refused.body})`);
  assert.deepEqual(unexpected(admin), []);
});

test('users: create one, set its password, change its role, delete it', { skip }, async () => {
  await go(admin, '#/users');
  await submit(admin, await formOf(admin, 'New user'), { name: 'dora', password: PW, team: 'acme', role: 'developer' });
  let dora = (await adminApi(h, 'GET', '/users/dora')).body;
  assert.equal(`${dora.role} ${dora.team_id > 0}`, 'developer true', 'created with its role in its team');
  assert.ok((await rows(admin, 'Users')).some(r => r[0] === 'dora'), 'and listed');

  // the role, from its select
  await admin.select('select[aria-label="Role of dora"]', 'consumer');
  await admin.waitForFunction(() => /dora is now consumer/.test(document.body.innerText), { timeout: 10000 });
  await admin.waitForNetworkIdle({ idleTime: 150 });
  assert.equal((await adminApi(h, 'GET', '/users/dora')).body.role, 'consumer', 'the role changed');

  // the password, in its dialog: a refusal next to the field, then a good one
  const open = async () => {
    await admin.evaluate(() => [...document.querySelectorAll('button')].find(b => b.textContent === 'Password for dora').click());
    return admin.waitForSelector('dialog[open] form');
  };
  let dlg = await open();
  await submit(admin, dlg, { password: 'short' });
  const why = await fieldError(dlg, 'password');
  assert.match(why, /password/i, `a weak password is refused next to the field (${why})`);
  await screenshot(admin, 'users-password-error');
  await submit(admin, dlg, { password: 'dora\'s new long passphrase' });
  await admin.waitForFunction(() => !document.querySelector('dialog[open]'), { timeout: 10000 });
  const signin = async pw => (await fetch(`${h.adminUrl}/admin/v1/sessions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'dora', password: pw }),
  })).status;
  assert.equal(await signin('dora\'s new long passphrase'), 201, 'the new password signs in');
  assert.equal(await signin(PW), 401, 'the old one does not');

  // deleted, after a confirmation
  await press(admin, 'Delete dora', { confirm: true });
  assert.equal((await adminApi(h, 'GET', '/users/dora')).status, 404, 'the user is gone');
  assert.ok(!(await rows(admin, 'Users')).some(r => r[0] === 'dora'), 'and no longer listed');
  assert.equal(await admin.$$eval('button', bs => bs.filter(b => b.textContent === 'Delete admin').length), 0,
    'nobody is offered to delete themselves');
  await screenshot(admin, 'users');
  assert.deepEqual(await checkA11y(admin), []);
  assert.deepEqual(unexpected(admin), []);
});

test('the MCP servers page lists each server\'s tools with their input schemas', { skip }, async () => {
  // the gateway lists the tools once the server's handshake is done: wait for that first
  let table = [];
  for (let i = 0; i < 100 && table.length === 0; i++) {
    await go(admin, '#/mcp');
    table = await rows(admin, 'Tools of alpha');
  }
  assert.deepEqual(table.map(r => r[0]), ['whoami', 'echo', 'add', 'crash', 'noise', 'slow', 'shared',
    'a_tool_name_long_enough_to_pass_sixty_four_characters_prefixed', 'pid'], 'every tool, every page of the list');
  const add = table.find(r => r[0] === 'add');
  assert.equal(add[1], 'a + b', 'with its description');
  assert.equal(add[2], 'a: number, b: number', 'and its parameters');
  assert.equal((await rows(admin, 'MCP servers'))[0][5], '9', 'the server row counts them');
  // the whole schema unfolds from the keyboard
  const summary = await admin.evaluateHandle(() => [...document.querySelectorAll('summary')].find(s => s.textContent === 'Input schema of add'));
  await summary.asElement().focus();
  await admin.keyboard.press('Enter');
  const pre = await admin.evaluate(() => [...document.querySelectorAll('details')].find(d => d.open)?.querySelector('pre')?.textContent);
  assert.deepEqual(JSON.parse(pre), { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } });
  await admin.evaluate(() => document.getElementById('toasts').replaceChildren()); /* earlier tests' notes */
  await screenshot(admin, 'mcp-tools');
  assert.deepEqual(await checkA11y(admin), []);
  // on a phone the tools stack, long names and schemas included
  await admin.setViewport({ width: 375, height: 740 });
  await go(admin, '#/mcp');
  await admin.evaluate(() => document.querySelectorAll('details').forEach(d => { d.open = true; }));
  const wide = await admin.evaluate(() => document.documentElement.scrollWidth);
  await screenshot(admin, 'mcp-tools-375');
  await admin.setViewport({ width: 1280, height: 900 });
  assert.ok(wide <= 375 + 1, `the MCP servers page fits 375 px (${wide})`);
  assert.deepEqual(unexpected(admin), []);
});

test('releases: publish, see the draft\'s diff, roll back', { skip }, async () => {
  await go(admin, '#/services/orders');
  await submit(admin, await formOf(admin, 'Releases'), { note: 'first cut' });
  const first = await rows(admin, 'Releases');
  assert.ok(first.some(r => r[0] === '1 (served)' && r[1] === 'first cut'), `${JSON.stringify(first)} ${await mainText(admin)}`);
  await submit(admin, await formOf(admin, 'Settings'), { targets: `${echo.url}\nhttp://127.0.0.1:9` });
  assert.match(await mainText(admin), /The draft has changes:\s*service targets changed/);
  await submit(admin, await formOf(admin, 'Releases'), { note: 'two targets' });
  assert.ok((await rows(admin, 'Releases')).some(r => r[0] === '2 (served)'));
  await press(admin, 'Roll back to 1', { confirm: true });
  const rel = await rows(admin, 'Releases');
  assert.ok(rel.some(r => r[0] === '3 (served)' && /rollback to release 1/.test(r[1])), JSON.stringify(rel));
  await screenshot(admin, 'services-releases');
  const checked = await checkA11y(admin);
  assert.deepEqual(checked.map(v => v.id), []);
  assert.deepEqual(unexpected(admin), []);
});

test('an OpenAPI document imported by paste (dry run, then for real) and exported', { skip }, async () => {
  const doc = JSON.stringify({
    openapi: '3.1.0', info: { title: 'orders', version: '1' }, servers: [{ url: '/shop' }],
    paths: { '/items': { get: { operationId: 'list' }, post: { operationId: 'add' } }, '/items/{id}': { get: { parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }] } } },
  });
  await go(admin, '#/services/orders');
  const form = await formOf(admin, 'OpenAPI document');
  await submit(admin, form, { document: doc });
  assert.match(await mainText(admin), /Would import 3 operations into API openapi: 3 added/);
  assert.equal((await adminApi(h, 'GET', '/services/orders/apis/openapi')).status, 404, 'a dry run writes nothing');
  await submit(admin, await formOf(admin, 'OpenAPI document'), { dry_run: false });
  assert.ok((await rows(admin, 'APIs of orders')).some(r => r[0] === 'openapi' && /^3 operations/.test(r[5])));
  const href = await admin.$eval('a[download$=".yaml"]', a => a.href);
  const yaml = await admin.evaluate(async u => (await fetch(u)).text(), href);
  assert.match(yaml, /\/shop\/items|\/items/, 'the export link gives the document');
  assert.deepEqual(unexpected(admin), []);
});

test('limits: a quota\'s usage against its limit', { skip }, async () => {
  await go(admin, '#/policies');
  await submit(admin, await formOf(admin, 'New policy'), {
    name: 'app-daily', team: 'acme', applies_to: 'consumer', 'applies_to.target': 'app', 'quota.requests_per_day': 5,
  });
  assert.ok((await rows(admin, 'Policies')).some(r => r[0] === 'app-daily' && /5 requests per day/.test(r[3])));
  const key = (await setup('POST', '/consumers/app/keys', { label: 'quota' })).key;
  for (let i = 0; i < 2; i++) {
    const code = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${key}`,
      `${h.gatewayUrl}/orders/q`]).toString();
    assert.equal(code, '200');
  }
  let usage = '';
  for (let i = 0; i < 40 && !/2 of 5/.test(usage); i++) {
    await go(admin, '#/policies');
    usage = (await rows(admin, 'Policies')).find(r => r[0] === 'app-daily')[4];
  }
  assert.match(usage, /requests per day: 2 of 5/, 'the limits page shows the day\'s count against the quota');
  await screenshot(admin, 'policies-usage');
  assert.deepEqual(unexpected(admin), []);
});
