// Real-browser test of the dashboard: Debian chromium driven by
// playwright-core.  Loads the page, checks the Chinese labels and the city
// total against the API, sends a report to a collector, and sees the total
// change without a reload.  Saves a screenshot.
//   node dashboard.test.mjs PUBLISHER_URL COLLECTOR_URL SCREENSHOT.png
import { chromium } from 'playwright-core';
import { randomUUID } from 'node:crypto';

const [pubUrl, colUrl, shot] = process.argv.slice(2);
if (!pubUrl || !colUrl || !shot) {
  console.error('usage: node dashboard.test.mjs PUBLISHER_URL COLLECTOR_URL SCREENSHOT.png');
  process.exit(64);
}

let failures = 0, passes = 0;
function check(cond, what) {
  if (cond) { passes++; console.log('ok -', what); }
  else { failures++; console.log('not ok -', what); }
}

async function apiTotal(window) {
  const r = await fetch(`${pubUrl}v1/totals?window=${window}&by=county`);
  return (await r.json()).totals.reports;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 }, locale: 'zh-CN' });
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  // 'load', not 'networkidle': the page keeps its SSE stream open for good.
  await page.goto(pubUrl, { waitUntil: 'load' });
  await page.waitForSelector('#live.on', { timeout: 15000 });

  check((await page.textContent('h1')) === '巴彦淖尔市普法工作实时统计',
    "the page is titled with the home city's name (巴彦淖尔市普法工作实时统计)");
  check(!(await page.isVisible('#trail')), 'the city page has no trail (it is the home)');
  check(await page.isVisible('text=活动场次'), 'the KPI labels are Chinese (活动场次)');
  check(await page.isVisible('text=县区排名'), 'the county ranking is there (县区排名)');

  // All the sample reports: the "全部" window.
  await page.click('nav button[data-window="all"]');
  const before = await apiTotal('all');
  check(before === Number(process.env.EXPECTED_REPORTS),
    `the API's total before the test (${before}) is the whole sample (${process.env.EXPECTED_REPORTS})`);
  await page.waitForFunction(n => document.getElementById('k-reports').textContent === String(n),
    before, { timeout: 10000 });
  check(true, `the city total shows the API's ${before} reports`);
  check(await page.isVisible('#table-county >> text=五原县'), 'the county table names 五原县');
  await page.waitForSelector('#live.on', { timeout: 10000 });
  check(true, 'the live indicator is on (SSE connected)');

  // A new report, sent to a county collector as a county system would.
  const today = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
  const report = {
    report_id: randomUUID(), revision: 1, county_code: '150821', unit_code: 'SFJ',
    unit_name: '司法局', occurred_on: today, theme: '宪法', venue: '社区', form: '讲座',
    campaign: '宪法宣传周', title: '<b>浏览器测试</b> 宪法进社区', sessions: 1,
    participants: 321, materials: 100,
  };
  const r = await fetch(`${colUrl}v1/reports`, { method: 'POST',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(report) });
  check(r.status === 202, `the collector accepted the report (HTTP ${r.status})`);
  const t0 = Date.now();
  await page.waitForFunction(n => document.getElementById('k-reports').textContent === String(n),
    before + 1, { timeout: 15000 });
  check(true, `the total became ${before + 1} without a reload, ${Date.now() - t0} ms after the POST`);
  check(await page.evaluate(() => performance.getEntriesByType('navigation').length) === 1,
    'the page was not reloaded');

  await page.screenshot({ path: shot, fullPage: true });
  check(true, `screenshot saved to ${shot}`);
  check(errors.length === 0, 'no errors in the page' + (errors.length ? ': ' + errors.join(' | ') : ''));
} catch (e) {
  failures++;
  console.log('not ok -', e.message);
} finally {
  await browser.close();
}
console.log(`${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
