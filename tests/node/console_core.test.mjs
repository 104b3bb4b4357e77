// The console's shell and its core pages in headless Chromium: sign-in (bootstrap token, then
// a password), every page of the shell's own (overview, call logs and one call, audit,
// doctor) drawn without a console error, without serious or critical axe-core violations,
// and screenshotted; the overview's totals those of the analytics API (every call, the ones
// without a service too); an ended session asks to sign in again without losing what was typed;
// the dark theme; the 375 px layout; roles in the navigation; sign-out; the keyboard alone:
// sign in, skip to the content, reach a page from the navigation and use its form, every
// focused control with a visible focus ring.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { startPortico, launchBrowser, openPage, signIn, checkA11y, screenshot, CHROMIUM } from './console_harness.mjs';

const PASSWORD = 'a long admin passphrase';
let portico, browser, upstream, upstreamPort;
// Chromium is a test dependency (scripts/deps.sh): skipped, and counted so, only when truly absent
const SKIP = fs.existsSync(CHROMIUM) ? false : `Chromium is not installed at ${CHROMIUM}`;

async function adminApi(method, path, body, headers = {}) {
  const r = await fetch(`${portico.adminUrl}/admin/v1${path}`, {
    method, headers: { Authorization: `Bearer ${portico.adminToken}`, 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

before(async () => {
  if (SKIP) return;
  upstream = http.createServer((req, res) => { res.setHeader('Content-Type', 'application/json'); res.end('{"ok":true}'); });
  await new Promise(r => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = upstream.address().port;
  portico = await startPortico({
    config: [
      'services:', `  - { name: shop, targets: ["http://127.0.0.1:${upstreamPort}"] }`,
      'routes:', '  - { name: shop, match: { path_prefix: "/shop/" }, service: shop }',
    ].join('\n'),
  });
  browser = await launchBrowser();
  // traffic for the overview and the call log: some answered, some not found
  for (let i = 0; i < 20; i++) await (await fetch(`${portico.gatewayUrl}/shop/item/${i}`)).arrayBuffer();
  // and three that no route takes: calls of no service, which a sum over services would miss
  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${portico.gatewayUrl}/nowhere/${i}`)).status, 404);
  assert.equal((await adminApi('PATCH', '/users/admin', { password: PASSWORD })).status, 200);
  const team = await adminApi('POST', '/teams', { name: 'payments' });
  assert.equal(team.status, 201);
  assert.equal((await adminApi('POST', '/users', { name: 'carol', password: 'consumer password 1', team: 'payments', role: 'consumer' })).status, 201);
});

after(async () => {
  if (browser) await browser.close();
  if (portico) await portico.stop();
  if (upstream) upstream.close();
});



async function checkPage(page, name, ready) {
  await page.waitForSelector(ready, { timeout: 15000 });
  await page.waitForNetworkIdle({ idleTime: 200 });
  assert.deepEqual(page.problems(), [], `${name}: no console errors`);
  assert.deepEqual(await checkA11y(page), [], `${name}: no serious or critical accessibility violations`);
  await screenshot(page, name);
}

async function go(page, hash, ready) {
  await page.evaluate(h => { location.hash = h; }, hash);
  await page.waitForSelector(ready, { timeout: 15000 });
}

test('the bootstrap token signs in, then the password; every core page draws cleanly', { skip: SKIP }, async () => {
  const page = await openPage(browser, `${portico.adminUrl}/console/`);
  await page.waitForSelector('.signin form');
  await checkPage(page, 'signin', '.signin input[name=user]');
  await signIn(page, portico.adminUrl, { token: portico.adminToken });
  assert.match(await page.$eval('.who', e => e.textContent), /admin/);
  await page.click('.sign-out');
  await page.waitForSelector('.signin form');
  await signIn(page, portico.adminUrl, 'admin', PASSWORD);
  const nav = await page.$$eval('nav.nav a', as => as.map(a => a.textContent));
  const core = ['Overview', 'Call logs', 'Audit log', 'Doctor']; // the management pages are console_pages.test.mjs's
  assert.deepEqual(nav.filter(t => core.includes(t)), core, 'an admin sees every core page');

  // the overview waits for the analytics (rolled up every 5 s): its charts show the traffic
  await go(page, '#/overview', '.cards');
  for (let i = 0; i < 100; i++) {
    if (await page.$('.charts svg.chart-svg')) break;
    await go(page, `#/overview?t=${i}`, '.cards');
    await page.waitForNetworkIdle({ idleTime: 300 });
  }
  assert.ok(await page.$('.charts svg.chart-svg'), 'the overview draws its charts');
  const cards = Object.fromEntries(await page.$$eval('.cards .card', cs => cs.map(c =>
    [c.querySelector('.label').textContent, c.querySelector('.value').textContent])));
  const top = await (await fetch(`${portico.adminUrl}/admin/v1/analytics/top?by=service&limit=1000`,
    { headers: { Authorization: `Bearer ${portico.adminToken}` } })).json();
  assert.equal(cards.Requests, '23', 'the overview counts every call made, the three without a service too');
  assert.equal(top.totals.requests, 23, 'as the analytics API\'s totals say');
  assert.equal(top.items.reduce((n, i) => n + i.requests, 0), 20, 'where a sum over the services would say 20');
  assert.equal(cards['Error rate'], '13.0%', 'the error rate is over every call: 3 of 23');
  const p99 = top.totals.latency_us.p99;
  assert.ok(cards['Latency p50 / p95 / p99'].split(' / ').length === 3 && p99 > 0, 'p50, p95 and p99 of every call');
  assert.match(await page.$eval('.bar-list', e => e.textContent), /shop/, 'the busiest service is listed');
  assert.match(await page.$eval('svg.chart-svg', e => e.getAttribute('aria-label')), /Requests: line chart/);
  // the health of what the gateway calls, as the balancer sees it
  await page.waitForSelector('[aria-label="Health"] li');
  assert.match(await page.$eval('[aria-label="Health"]', e => e.textContent), /up shop 1 of 1 targets available/,
    'the overview shows the upstream that answers as up');
  await checkPage(page, 'overview', '.charts svg');

  await go(page, '#/calls', 'table.grid');
  await checkPage(page, 'calls', 'table.grid tbody tr');
  assert.equal(await page.$$eval('table.grid tbody tr', r => r.length), 23, 'every call is listed');
  const exportHref = await page.$eval('a[download="calls.csv"]', a => a.getAttribute('href'));
  assert.match(exportHref, /^\/admin\/v1\/calls\?.*format=csv/);
  const csv = await page.evaluate(async u => (await fetch(u)).text(), exportHref);
  assert.match(csv.split('\n')[0], /^time,/, 'the CSV export link answers a CSV file with the cookie');
  await page.select('#calls-status', '2xx');
  await page.type('#calls-service', 'shop');
  await Promise.all([page.waitForFunction(() => location.hash.includes('status=2xx') && location.hash.includes('service=shop')),
    page.click('form.toolbar button[type=submit]')]);
  await page.waitForNetworkIdle({ idleTime: 200 });
  assert.equal(await page.$$eval('table.grid tbody tr', r => r.length), 20, 'the filters keep the matching calls');
  await page.click('table.grid tbody tr a');
  await page.waitForSelector('dl.kv');
  await checkPage(page, 'call', 'dl.kv');
  assert.match(await page.$eval('dl.kv', e => e.textContent), /request_id/);

  await go(page, '#/audit', 'table.grid');
  await checkPage(page, 'audit', 'table.grid tbody tr');
  assert.match(await page.$eval('table.grid', e => e.textContent), /session/, 'sign-ins are in the audit log');

  await go(page, '#/doctor', 'form.form');
  await page.type('input[name=target]', '127.0.0.1:1');
  await page.click('form.form button[type=submit]');
  await page.waitForSelector('pre.report', { timeout: 20000 });
  const report = await page.$eval('pre.report', e => e.textContent);
  assert.match(report, /^portico doctor: connecting to 127\.0\.0\.1:1\n/, 'the report starts as the command line\'s');
  assert.match(report, /\nChecks:\n/);
  assert.match(report, /\nVerdict: failure/);
  await checkPage(page, 'doctor', 'pre.report');
  await page.close();
});

test('an ended session asks to sign in again over the page, keeping what was typed', { skip: SKIP }, async () => {
  const page = await openPage(browser, `${portico.adminUrl}/console/`);
  await signIn(page, portico.adminUrl, 'admin', PASSWORD);
  await go(page, '#/doctor', 'input[name=target]');
  await page.type('input[name=target]', '127.0.0.1:2');
  // end the session on the server, as its expiry would
  const cookie = (await page.cookies()).find(c => c.name === 'portico_session');
  assert.ok(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', 'the cookie is HttpOnly and SameSite=Strict');
  const headers = { Cookie: `portico_session=${cookie.value}` };
  const cur = await (await fetch(`${portico.adminUrl}/admin/v1/sessions/current`, { headers })).json();
  const del = await fetch(`${portico.adminUrl}/admin/v1/sessions/current`, { method: 'DELETE', headers: { ...headers, 'X-CSRF-Token': cur.csrf_token } });
  assert.equal(del.status, 204);

  await page.click('form.form button[type=submit]');
  await page.waitForSelector('dialog.signin-dialog input[name=password]', { visible: true });
  assert.equal(await page.$eval('input[name=target]', e => e.value), '127.0.0.1:2', 'the typed target is still there');
  assert.equal(await page.$eval('dialog.signin-dialog input[name=user]', e => e.value), 'admin', 'the user is filled in');
  await screenshot(page, 'session-ended');
  await page.type('dialog.signin-dialog input[name=password]', PASSWORD);
  await page.click('dialog.signin-dialog button[type=submit]');
  await page.waitForSelector('pre.report', { timeout: 20000 });
  assert.equal(await page.$('dialog.signin-dialog'), null, 'the dialog is gone');
  assert.equal(await page.$eval('input[name=target]', e => e.value), '127.0.0.1:2', 'still the typed target');
  assert.match(await page.$eval('pre.report', e => e.textContent), /connecting to 127\.0\.0\.1:2/, 'the request went through after signing in');
  assert.deepEqual(page.problems(), []);
  await page.close();
});

test('a sign-in in another tab (a new session) does not break a write in this one', { skip: SKIP }, async () => {
  const page = await openPage(browser, `${portico.adminUrl}/console/`);
  await signIn(page, portico.adminUrl, 'admin', PASSWORD);
  const first = (await page.cookies()).find(c => c.name === 'portico_session').value;
  const tab = await page.browserContext().newPage();
  await tab.goto(`${portico.adminUrl}/console/`, { waitUntil: 'networkidle0' });
  await tab.evaluate(async pw => {
    const r = await fetch('/admin/v1/sessions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'admin', password: pw }) });
    if (r.status !== 201) throw new Error('sign-in in the other tab: ' + r.status);
  }, PASSWORD);
  await tab.close();
  await page.bringToFront(); /* a background tab's timers are throttled */
  assert.notEqual((await page.cookies()).find(c => c.name === 'portico_session').value, first, 'the other tab holds a new session');
  await go(page, '#/doctor', 'input[name=target]');
  await page.type('input[name=target]', '127.0.0.1:3');
  await page.click('form.form button[type=submit]');
  await page.waitForSelector('pre.report', { timeout: 20000 });
  assert.match(await page.$eval('pre.report', e => e.textContent), /127\.0\.0\.1:3/, 'the write went through with the new CSRF token');
  assert.equal(await page.$('dialog'), null, 'without asking to sign in');
  assert.deepEqual(page.problems(), []);
  await page.close();
});

test('the dark theme toggles and is remembered; 375 px has no horizontal overflow', { skip: SKIP }, async () => {
  const page = await openPage(browser, `${portico.adminUrl}/console/`);
  await signIn(page, portico.adminUrl, 'admin', PASSWORD);
  const before = await page.evaluate(() => document.documentElement.dataset.theme);
  const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const bg0 = await bg();
  await page.click('.theme-toggle');
  const afterTheme = await page.evaluate(() => document.documentElement.dataset.theme);
  assert.notEqual(afterTheme, before, 'the toggle switches the theme');
  assert.notEqual(await bg(), bg0, 'the colours change');
  assert.equal(await page.$eval('.theme-toggle', b => b.getAttribute('aria-pressed')), String(afterTheme === 'dark'));
  await page.reload({ waitUntil: 'networkidle0' });
  await page.waitForSelector('nav.nav');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), afterTheme, 'remembered after a reload');
  if (afterTheme !== 'dark') await page.click('.theme-toggle');
  await go(page, '#/overview', '.cards');
  await checkPage(page, 'overview-dark', '.cards');

  await page.setViewport({ width: 375, height: 800 });
  for (const [hash, ready] of [['#/overview', '.cards'], ['#/calls', 'table.grid'], ['#/audit', 'table.grid'], ['#/doctor', 'form.form']]) {
    await go(page, hash, ready);
    await page.waitForNetworkIdle({ idleTime: 200 });
    const [sw, cw, wide] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,
      [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
        .slice(0, 5).map(e => `${e.tagName.toLowerCase()}.${e.getAttribute('class') || ''}`)]);
    assert.ok(sw <= cw, `${hash} at 375 px: scrollWidth ${sw} <= ${cw} (too wide: ${wide.join(', ')})`);
  }
  await screenshot(page, 'overview-375');
  assert.deepEqual(page.problems(), []);
  await page.close();
});

/** Presses Tab (Shift+Tab when back) until the focused element matches selector, at most 60 times
 * (none when it already does); resolves to a description of every control focused on the way
 * that showed no focus ring (the body, where focus goes between the page's last stop and its
 * first, is no control). */
async function tabTo(page, selector, back = false) {
  const unringed = [];
  if (await page.evaluate(sel => document.activeElement.matches(sel), selector)) return unringed;
  for (let i = 0; i < 60; i++) {
    if (back) await page.keyboard.down('Shift');
    await page.keyboard.press('Tab');
    if (back) await page.keyboard.up('Shift');
    const [done, ringed, what] = await page.evaluate(sel => {
      const el = document.activeElement;
      const cs = getComputedStyle(el);
      const ring = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0;
      return [el.matches(sel), ring, `${el.tagName.toLowerCase()} ${el.textContent.trim().slice(0, 30) || el.name || ''}`];
    }, selector);
    if (!ringed && !what.startsWith('body')) unringed.push(what);
    if (done) return unringed;
  }
  throw new Error(`Tab never reached ${selector}`);
}

test('the keyboard alone: sign in, skip to the content, open a page, use its form', { skip: SKIP }, async () => {
  const page = await openPage(browser, `${portico.adminUrl}/console/`);
  await page.waitForSelector('.signin input[name=user]');
  const rings = [];
  rings.push(...await tabTo(page, 'input[name=user]'));
  await page.keyboard.type('admin');
  rings.push(...await tabTo(page, 'input[name=password]'));
  await page.keyboard.type(PASSWORD);
  await Promise.all([page.waitForSelector('nav.nav a', { timeout: 15000 }), page.keyboard.press('Enter')]);

  // a fresh load starts at the top: the first Tab is the skip link, which moves focus to the page
  await page.reload({ waitUntil: 'networkidle0' });
  await page.waitForSelector('nav.nav a');
  const hashBefore = await page.evaluate(() => location.hash);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content', 'the first stop skips to the content');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main', 'focus moves to the page');
  assert.equal(await page.evaluate(() => location.hash), hashBefore, 'and the page stays what it was');
  assert.notEqual(await page.$eval('main h1', e => e.textContent), 'Not found');

  // back to the navigation, to the doctor, and its form from the keyboard
  rings.push(...await tabTo(page, 'a[data-page=doctor]', true));
  await page.keyboard.press('Enter');
  await page.waitForSelector('input[name=target]');
  rings.push(...await tabTo(page, 'input[name=target]'));
  await page.keyboard.type('127.0.0.1:4');
  await page.keyboard.press('Enter');
  await page.waitForSelector('pre.report', { timeout: 20000 });
  assert.match(await page.$eval('pre.report', e => e.textContent), /connecting to 127\.0\.0\.1:4/, 'the form was submitted with Enter');
  assert.deepEqual(rings, [], 'every control focused on the way shows its focus ring');
  assert.deepEqual(page.problems(), []);
  await page.close();
});

test('a consumer sees only its pages; sign-out ends the session', { skip: SKIP }, async () => {
  const page = await openPage(browser, `${portico.adminUrl}/console/`);
  await signIn(page, portico.adminUrl, 'carol', 'consumer password 1');
  const nav = await page.$$eval('nav.nav a', as => as.map(a => a.textContent));
  assert.deepEqual(nav.filter(t => ['Overview', 'Call logs', 'Audit log', 'Doctor'].includes(t)), ['Overview', 'Call logs'],
    'no audit log or doctor for a consumer');
  await go(page, '#/audit', 'main h1');
  assert.equal(await page.$eval('main h1', e => e.textContent), 'Not found');
  await checkPage(page, 'consumer-audit-refused', 'main h1');
  const status = await page.evaluate(async () => (await fetch('/admin/v1/audit')).status);
  assert.equal(status, 403, 'and the admin API refuses it the audit log too');

  const cookie = (await page.cookies()).find(c => c.name === 'portico_session');
  await page.click('.sign-out');
  await page.waitForSelector('.signin form');
  assert.equal((await page.cookies()).find(c => c.name === 'portico_session'), undefined, 'the cookie is gone');
  const r = await fetch(`${portico.adminUrl}/admin/v1/sessions/current`, { headers: { Cookie: `portico_session=${cookie.value}` } });
  assert.equal(r.status, 401, 'and the session is over on the server');
  assert.deepEqual(page.problems(), []);
  await page.close();
});
