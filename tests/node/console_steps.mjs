// console_steps.mjs: what the console's browser tests do on a page, in the console's own terms:
// go to a page and wait until it is drawn, fill and submit the form of a titled section, click
// a named button, read a table, and the upstream the flow calls through the gateway.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, freePort, stopProc } from './ai_harness.mjs';

export const HAVE_CHROMIUM = fs.existsSync(process.env.CHROMIUM || '/usr/bin/chromium');

/** Resolves once something accepts connections on port (polled, bounded). */
async function portOpen(port, ms = 10000) {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise(r => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${port}`);
    await new Promise(r => setTimeout(r, 25));
  }
}

/** The black-box tests' echo upstream on a free port: {port, url, stop()}. */
export async function startEcho() {
  const port = await freePort();
  const proc = spawn(process.execPath, [path.join(ROOT, 'tests/upstreams/echo.mjs'), '--port', String(port)], { stdio: 'ignore' });
  await portOpen(port);
  return { port, url: `http://127.0.0.1:${port}`, stop: () => stopProc(proc) };
}

/** The admin API called directly with a bearer token (setup the test is not about). */
export async function adminApi(h, method, p, body) {
  const res = await fetch(`${h.adminUrl}/admin/v1${p}`, {
    method, headers: { Authorization: `Bearer ${h.adminToken}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Goes to #/<hash> (drawn afresh when it is already there) and waits until the page is drawn
 * and its requests are answered. */
export async function go(page, hash) {
  const id = hash.replace(/^#\//, '').split(/[/?]/)[0];
  await page.evaluate(x => {
    document.querySelectorAll('.page').forEach(p => { p.dataset.stale = '1'; });
    if (location.hash === x) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = x;
  }, hash);
  await page.waitForFunction(pid => {
    const p = document.querySelector(`.page[data-page="${pid}"]:not([data-stale])`);
    return p && p.childElementCount > 0;
  }, { timeout: 10000 }, id);
  await page.waitForNetworkIdle({ idleTime: 150, timeout: 10000 });
}

/** What the page logged besides the answers a test provoked on purpose (a 403 or a 400 the
 * admin API gives is logged by the browser as a failed resource). */
export function unexpected(page) {
  return page.problems().filter(p => !/Failed to load resource: the server responded with a status of 4\d\d/.test(p));
}

/** The <form> of the section titled title (its <h2>). */
export async function formOf(page, title) {
  const handle = await page.evaluateHandle(t => {
    const s = [...document.querySelectorAll('section')].find(x => x.querySelector('h2')?.textContent.trim() === t);
    return s ? s.querySelector('form') : null;
  }, title);
  const el = handle.asElement();
  if (!el) throw new Error(`no form in section "${title}"`);
  return el;
}

/** Waits until what a button started is over: the console disables a button while its work
 * (the write and the page's redraw) runs, and re-enables it, or drops it with the redraw. */
function settled(page, button) {
  return page.waitForFunction(b => !b.isConnected || !b.disabled, { timeout: 15000 }, button);
}

/** Fills fields ({name: value}) of a form as a user would, then submits it and waits until
 * the write and the redraw are done. */
export async function submit(page, form, values) {
  for (const [name, value] of Object.entries(values)) {
    const el = await form.$(`[name="${name}"]`);
    if (!el) throw new Error(`no field ${name}`);
    const tag = await el.evaluate(e => e.tagName.toLowerCase() + (e.type ? ':' + e.type : ''));
    if (tag.startsWith('select')) await el.select(String(value));
    else if (tag === 'input:checkbox') { if ((await el.evaluate(e => e.checked)) !== value) await el.click(); }
    else {
      await el.evaluate(e => { e.value = ''; });
      if (value !== '') await el.type(String(value));
    }
  }
  const button = await form.$('button[type=submit]');
  await button.click();
  await settled(page, button);
  await page.waitForNetworkIdle({ idleTime: 100, timeout: 10000 });
}

/** Clicks the button whose text is label (exactly), confirms the dialog it opens when
 * opts.confirm, and waits until its work is done. */
export async function press(page, label, opts = {}) {
  const handle = await page.evaluateHandle(t => [...document.querySelectorAll('button')].find(x => x.textContent.trim() === t) || null, label);
  const button = handle.asElement();
  if (!button) throw new Error(`no button "${label}"`);
  await button.click();
  if (opts.confirm) {
    const yes = await page.waitForSelector('dialog[open] .actions button:first-child');
    await yes.click();
  }
  await settled(page, button);
  await page.waitForNetworkIdle({ idleTime: 100, timeout: 10000 });
}

/** The visible text of the page's main area. */
export const mainText = page => page.$eval('main', m => m.innerText);

/** The rows of the table captioned caption, as arrays of cell texts. */
export function rows(page, caption) {
  return page.evaluate(c => {
    const t = [...document.querySelectorAll('table')].find(x => x.caption?.textContent.trim() === c);
    return t ? [...t.tBodies[0].rows].map(r => [...r.cells].map(td => td.innerText.trim())) : [];
  }, caption);
}

/** The message shown next to a form's field (its .field-error), '' when none. */
export function fieldError(form, name) {
  return form.$eval(`[name="${name}"]`, el => document.getElementById(el.getAttribute('aria-describedby'))?.textContent || '');
}
