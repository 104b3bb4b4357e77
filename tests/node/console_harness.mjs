// console_harness.mjs: what the console's browser tests share: Portico with the admin API on
// free ports and a temporary data_dir, headless Chromium through puppeteer-core, pages that
// record their problems, sign-in, axe-core checks and screenshots.
//
//   const p = await startPortico({ config: 'services: ...', env: {} });
//   p.adminUrl, p.gatewayUrl, p.adminToken, p.dataDir, p.errorLog(), await p.stop()
//   const browser = await launchBrowser();          // null when Chromium is absent (skip)
//   const page = await openPage(browser, `${p.adminUrl}/console/`);
//   await signIn(page, p.adminUrl, 'admin', 'password');   // or signIn(page, url, {token})
//   page.problems()     console errors, uncaught exceptions, failed requests, 5xx answers
//   await checkA11y(page)  -> serious and critical axe-core violations ([] when none)
//   await screenshot(page, 'overview')  -> build/test-artifacts/console/overview.png
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = process.env.PORTICO_ROOT || path.resolve(HERE, '..', '..');
const BIN = path.resolve(ROOT, process.env.PORTICO_BIN || 'build/portico');
const ARTIFACTS = path.join(ROOT, 'build', 'test-artifacts', 'console');
const AXE = path.join(HERE, 'node_modules', 'axe-core', 'axe.min.js');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function stopProc(p) {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    p.once('exit', () => { clearTimeout(t); resolve(); });
    p.kill('SIGTERM');
  });
}

/**
 * Starts `portico serve` with the gateway and the admin API on free ports, data_dir in a new
 * temporary directory, the call log on, and `config` (YAML lines, or a function of
 * {gatewayPort, adminPort, dir} returning them) appended; `admin` (YAML flow members such as
 * `session_idle: 3s`) joins the admin section. Resolves once the log says the console and
 * the gateway are up (no polling), with the bootstrap token read.
 */
export async function startPortico({ config = '', env = {}, admin = '' } = {}) {
  if (!fs.existsSync(BIN)) throw new Error(`portico binary missing: ${BIN} (run make)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-console-'));
  const [gatewayPort, adminPort] = [await freePort(), await freePort()];
  const extra = typeof config === 'function' ? config({ gatewayPort, adminPort, dir }) : config;
  const cfg = path.join(dir, 'portico.yaml');
  fs.writeFileSync(cfg, [
    `listen: ["127.0.0.1:${gatewayPort}"]`, 'workers: 1', 'access_log: "off"', `data_dir: "${dir}/data"`,
    `admin: { listen: "127.0.0.1:${adminPort}"${admin ? ', ' + admin : ''} }`, 'call_log: { enabled: true }', extra, '',
  ].join('\n'));
  const proc = spawn(BIN, ['serve', '-c', cfg], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const h = {
    adminUrl: `http://127.0.0.1:${adminPort}`,
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    dataDir: path.join(dir, 'data'),
    errorLog: () => stderr,
    async stop() {
      await stopProc(proc);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`portico did not start within 20 s: ${stderr}`)), 20000);
      const ready = () => /console at http/.test(stderr) && /listening on 127\.0\.0\.1:/.test(stderr);
      proc.stderr.on('data', (d) => {
        stderr += d;
        if (ready()) { clearTimeout(t); resolve(); }
      });
      proc.once('exit', (c) => { clearTimeout(t); reject(new Error(`portico exited (${c}): ${stderr}`)); });
    });
    h.adminToken = fs.readFileSync(path.join(h.dataDir, 'admin-token'), 'utf8').trim();
    return h;
  } catch (e) {
    await h.stop();
    throw e;
  }
}

/** Headless Chromium (CHROMIUM or /usr/bin/chromium); null when it is not installed. */
export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) return null;
  const { default: puppeteer } = await import('puppeteer-core');
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--lang=en-US'],
  });
}

/**
 * A new page at url (1280 × 900), in a browser context of its own (its own cookies and
 * storage, so pages do not share a session), that records its problems: console errors, uncaught
 * exceptions, requests that failed at the network level and answers of 500 or more.
 * Chromium also logs every 4xx answer as a console error ("Failed to load resource"): the
 * console expects those (a 401 before sign-in, a 400 that shows next to a field), so they
 * are recorded apart, in page.httpErrors(). A CSP violation is a console error, so it counts.
 */
export async function openPage(browser, url) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const close = page.close.bind(page);
  page.close = async () => { await close(); await context.close(); };
  await page.setViewport({ width: 1280, height: 900 });
  const problems = [];
  const httpErrors = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(text)) httpErrors.push(text);
    else problems.push(`console: ${text}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText || '';
    if (!/ERR_ABORTED/.test(why)) problems.push(`request failed: ${r.method()} ${r.url()} ${why}`);
  });
  page.on('response', (r) => { if (r.status() >= 500) problems.push(`answer ${r.status()}: ${r.request().method()} ${r.url()}`); });
  page.problems = () => problems.slice();
  page.httpErrors = () => httpErrors.slice();
  if (url) await page.goto(url, { waitUntil: 'networkidle0' });
  return page;
}

/**
 * Signs in through the console's own form at adminUrl/console/: with user and password, or
 * with the bootstrap token when user is {token}. Resolves once the navigation is drawn.
 */
export async function signIn(page, adminUrl, user, password) {
  if (!page.url().startsWith(`${adminUrl}/console`)) await page.goto(`${adminUrl}/console/`, { waitUntil: 'networkidle0' });
  await page.waitForSelector('.signin form');
  if (typeof user === 'object') {
    const toggle = await page.waitForSelector('.signin button.link');
    if (await page.$('.signin input[name=user]')) await toggle.click();
    await page.waitForSelector('.signin input[name=token]');
    await page.type('.signin input[name=token]', user.token);
  } else {
    await page.type('.signin input[name=user]', user);
    await page.type('.signin input[name=password]', password);
  }
  await Promise.all([page.waitForSelector('nav.nav a', { timeout: 15000 }), page.click('.signin button[type=submit]')]);
}

/** Serious and critical axe-core violations on the page as it is now ([] when none). */
export async function checkA11y(page) {
  // page.evaluate runs through the DevTools protocol, which the page's CSP does not govern,
  // so the page keeps its real policy (a violation stays a recorded problem).
  const has = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!has) await page.evaluate(fs.readFileSync(AXE, 'utf8'));
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5) }));
  });
  return res.filter(v => v.impact === 'serious' || v.impact === 'critical');
}

/** Saves a full-page PNG as build/test-artifacts/console/<name>.png; resolves to its path. */
export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
