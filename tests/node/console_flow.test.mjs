// The console's whole flow in headless Chromium, as the issue states it: sign in, create a team,
// a REST service (manual approval) with an API to a test upstream, a consumer and a key (read
// from the page), subscribe, approve, call the API with the key using curl, then find that call
// in the call log page and see the overview's chart change. Every page is screenshotted (1280 px,
// 375 px, dark theme), shows no console error, and has no serious or critical axe-core finding.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startPortico, launchBrowser, openPage, signIn, checkA11y, screenshot } from './console_harness.mjs';
import { HAVE_CHROMIUM, startEcho, adminApi, go, formOf, submit, press, mainText, rows } from './console_steps.mjs';

const skip = HAVE_CHROMIUM ? false : 'chromium is not installed';
const PASSWORD = 'a long console passphrase';
let h, echo, browser, page;

before(async () => {
  if (skip) return;
  echo = await startEcho();
  // the harness turns the call log on for every route: the console's call log and overview have rows
  h = await startPortico();
  const r = await adminApi(h, 'PATCH', '/users/admin', { password: PASSWORD });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  browser = await launchBrowser();
  page = await openPage(browser, `${h.adminUrl}/console/`);
});

after(async () => {
  if (browser) await browser.close();
  if (h) await h.stop();
  if (echo) await echo.stop();
});

/** Checks the page as it is now: no console error, no serious accessibility finding. */
async function clean(name) {
  await screenshot(page, name);
  assert.deepEqual(page.problems(), [], `console errors on ${name}`);
  const v = await checkA11y(page);
  assert.deepEqual(v.map(x => `${x.id}: ${x.help} (${x.nodes.length})`), [], `axe-core on ${name}`);
}

/** A 1280 x 800 picture of the viewport for docs/CONSOLE.md (build/test-artifacts/console/docs). */
async function docShot(name) {
  const dir = path.join(path.dirname(new URL(import.meta.url).pathname), '../../build/test-artifacts/console/docs');
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`) });
}

/** What the overview's charts say (their text alternatives), to see them change. */
function overviewCharts() {
  return page.evaluate(() => [...document.querySelectorAll('.page svg[aria-label], .page .chart table, .page .card')]
    .map(e => e.getAttribute('aria-label') || e.textContent).join('\n'));
}

/** Re-draws page id until test(text of main) holds (the call log is written asynchronously). */
async function until(hash, fn, what) {
  for (let i = 0; i < 60; i++) {
    await go(page, hash);
    if (await fn()) return;
    await page.waitForNetworkIdle({ idleTime: 250 });
  }
  assert.fail(`never saw ${what}`);
}

test('sign in, build a service, subscribe, approve, call it, see the call', { skip }, async () => {
  await signIn(page, h.adminUrl, 'admin', PASSWORD);
  await page.waitForSelector('.nav');

  await go(page, '#/overview');
  const chartsBefore = await overviewCharts();

  // a team
  await go(page, '#/teams');
  await submit(page, await formOf(page, 'New team'), { name: 'payments' });
  assert.ok((await rows(page, 'Teams')).some(r => r[0] === 'payments'), 'the team is listed');

  // a REST service needing approval, to the echo upstream, and its API
  await go(page, '#/services');
  await submit(page, await formOf(page, 'New service'), {
    name: 'ledger', team: 'payments', kind: 'rest', targets: echo.url, approval: 'manual',
  });
  await page.waitForFunction(() => location.hash === '#/services/ledger');
  await page.waitForNetworkIdle({ idleTime: 150 });
  await submit(page, await formOf(page, 'APIs'), { name: 'v1', path_prefix: '/ledger/', auth: 'key' });
  assert.ok((await rows(page, 'APIs of ledger')).some(r => r[0] === 'v1' && r[1] === '/ledger/'), 'the API is listed');

  // a consumer and its key, read from the page once
  await go(page, '#/consumers');
  await submit(page, await formOf(page, 'New consumer'), { name: 'shop', team: 'payments' });
  await page.waitForFunction(() => location.hash === '#/consumers/shop');
  await page.waitForNetworkIdle({ idleTime: 150 });
  await submit(page, await formOf(page, 'Create a key'), { label: 'ci' });
  const key = await page.$eval('.secret-once code.secret', c => c.textContent);
  assert.match(key, /^pk_/, 'the new key is shown');
  assert.ok(await page.$('.secret-once button.copy'), 'with a copy button');
  await clean('consumer-key');
  await docShot('consumer-key');

  // subscribe from the catalog, then approve it from the queue
  await go(page, '#/subscriptions');
  await submit(page, await page.evaluateHandle(() => {
    const t = [...document.querySelectorAll('table')].find(x => x.caption?.textContent === 'Catalog');
    const row = [...t.tBodies[0].rows].find(r => r.cells[0].textContent === 'ledger');
    return row.querySelector('form');
  }).then(x => x.asElement()), { consumer: 'shop' });
  assert.deepEqual((await rows(page, 'Waiting for approval')).map(r => r.slice(0, 3)), [['shop', 'ledger', 'pending']]);
  const refused = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${key}`,
    `${h.gatewayUrl}/ledger/before-approval`]).toString();
  assert.equal(refused, '403', 'a pending subscription does not let the key through');
  await press(page, 'Approve shop');
  assert.deepEqual(await rows(page, 'Waiting for approval'), [], 'the queue is empty');
  assert.ok((await rows(page, 'Subscriptions')).some(r => r[0] === 'shop' && r[1] === 'ledger' && r[2] === 'active'));
  await clean('subscriptions');
  await docShot('subscriptions');

  // call the API with the key, with curl
  const out = execFileSync('curl', ['-s', '-i', '-H', `Authorization: Bearer ${key}`,
    `${h.gatewayUrl}/ledger/console-flow?n=1`]).toString();
  assert.match(out, /^HTTP\/1\.1 200/, out.slice(0, 200));
  const rid = (/x-request-id: *(\S+)/i.exec(out) || [])[1];
  assert.ok(rid, 'the gateway names the request');

  // the call in the call log page, and the overview's charts moved
  await until('#/calls', async () => (await mainText(page)).includes('/ledger/console-flow'), 'the call in the call log');
  await clean('calls-with-flow');
  await docShot('calls');
  await until('#/overview', async () => (await overviewCharts()) !== chartsBefore, 'the overview change');
  await clean('overview-after-call');
  await docShot('overview');
});

test('every page: 1280 px, 375 px and dark, no console error, no serious axe finding', { skip }, async () => {
  const hashes = await page.evaluate(() => [...document.querySelectorAll('.nav a')].map(a => a.getAttribute('href')));
  assert.ok(hashes.length >= 8, `an admin sees every page (${hashes})`);
  hashes.push('#/services/ledger', '#/consumers/shop');
  await page.setViewport({ width: 1280, height: 800 });
  await go(page, '#/services/ledger');
  await docShot('service');
  for (const hash of hashes) {
    const name = hash.replace(/^#\//, '').replace(/\//g, '-');
    await page.setViewport({ width: 1280, height: 800 });
    await go(page, hash);
    await clean(name);
    if (['policies', 'users', 'mcp', 'providers'].includes(name)) await docShot(name);
    await page.setViewport({ width: 375, height: 740 });
    await go(page, hash);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 375 + 1, `${hash} fits 375 px (${wide})`);
    await clean(`${name}-375`);
    if (name === 'subscriptions') await docShot('subscriptions-375');
  }
  await page.setViewport({ width: 1280, height: 800 });
  await page.click('.theme-toggle');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  for (const hash of hashes) {
    await go(page, hash);
    await clean(`${hash.replace(/^#\//, '').replace(/\//g, '-')}-dark`);
    if (hash === '#/services/ledger') await docShot('service-dark');
  }
  await page.click('.theme-toggle');
});
