// console.mjs: bench/console.sh's browser side. Signs in to the console of the Portico at
// ADMIN_URL in headless Chromium and times, ROUNDS times each, how long the Overview and the
// Call logs page take to become usable: from the navigation to the page drawn with its data
// (the overview's charts and totals, the first page of calls in the table) and every request
// it made answered. Prints one line per page: first, median and slowest, in ms.
//
//   ADMIN_URL=http://127.0.0.1:PORT PASSWORD=... ROUNDS=7 node bench/console.mjs
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(HERE, '..', 'tests', 'node', 'package.json'));
const puppeteer = require('puppeteer-core');
const { ADMIN_URL, PASSWORD } = process.env;
const ROUNDS = Number(process.env.ROUNDS || 7);

// What "usable" means for each page: its data is on screen.
const READY = {
  overview: () => {
    const p = document.querySelector('.page[data-page="overview"]');
    return !!p && p.querySelectorAll('svg').length > 0 && /Requests/.test(p.innerText) && !/Loading/.test(p.innerText);
  },
  calls: () => {
    const p = document.querySelector('.page[data-page="calls"]');
    return !!p && p.querySelectorAll('table tbody tr').length > 0;
  },
};

async function timeOnce(page, id) {
  const t0 = Date.now();
  await page.evaluate(x => {
    document.querySelectorAll('.page').forEach(p => { p.dataset.stale = '1'; });
    location.hash = '#/' + x;
  }, id);
  await page.waitForFunction(`(${READY[id]})() && !document.querySelector('.page[data-stale]')`, { timeout: 120000, polling: 20 });
  await page.waitForNetworkIdle({ idleTime: 50, timeout: 120000 });
  return Date.now() - t0 - 50; // the idle wait's own 50 ms are not the page's
}

const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  await page.goto(`${ADMIN_URL}/console/`, { waitUntil: 'networkidle0' });
  await page.type('.signin input[name=user]', 'admin');
  await page.type('.signin input[name=password]', PASSWORD);
  await Promise.all([page.waitForSelector('nav.nav a'), page.click('.signin button[type=submit]')]);
  for (const id of ['overview', 'calls']) {
    const times = [];
    for (let i = 0; i < ROUNDS; i++) {
      await page.evaluate(() => { location.hash = '#/teams'; });
      await page.waitForNetworkIdle({ idleTime: 50 });
      times.push(await timeOnce(page, id));
    }
    console.log(`${id}: first ${times[0]} ms, median ${median(times)} ms, slowest ${Math.max(...times)} ms (${ROUNDS} rounds)`);
  }
} finally {
  await browser.close();
}
