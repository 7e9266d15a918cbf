// Real-browser test of the collector's data-entry page (Debian chromium,
// playwright-core): sign in, a browser-side and a server-side error shown
// at their fields, a report accepted with its id, spooled -> committed, a
// correction, a retraction with confirmation; a narrow screen; no request
// leaves the collector.  Screenshots in ARTIFACT_DIR (entry-*.png).
//   node entry.test.mjs COLLECTOR_URL TOKEN_FILE ARTIFACT_DIR
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';

const [colUrl, tokenFile, artifacts] = process.argv.slice(2);
if (!colUrl || !tokenFile || !artifacts) {
  console.error('usage: node entry.test.mjs COLLECTOR_URL TOKEN_FILE ARTIFACT_DIR');
  process.exit(64);
}
const token = readFileSync(tokenFile, 'utf8').trim();
let failures = 0, passes = 0;
function check(cond, what) {
  if (cond) { passes++; console.log('ok -', what); } else { failures++; console.log('not ok -', what); }
}
const stateOf = page => page.textContent('#recent tbody tr:first-child td.state');
async function waitState(page, text) {
  await page.waitForFunction(t => {
    const td = document.querySelector('#recent tbody tr:first-child td.state');
    return td && td.textContent.startsWith(t);
  }, text, { timeout: 20000 });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1300 }, locale: 'zh-CN' });
  const errors = [], foreign = [], urls = [];
  page.on('pageerror', e => errors.push(String(e)));
  // The wrong token (401) and the server-side refusal (400) are expected.
  page.on('console', m => {
    if (m.type() === 'error' && !/status of 40[01]/.test(m.text())) errors.push(m.text());
  });
  page.on('request', r => { urls.push(r.url()); if (!r.url().startsWith(colUrl)) foreign.push(r.url()); });

  await page.goto(colUrl, { waitUntil: 'load' });
  check(await page.isVisible('#signin'), 'the sign-in form is shown first');
  await page.fill('#token', 'wrong-token');
  await page.click('#signin-form button');
  await page.waitForSelector('#signin-error:has-text("令牌错误")');
  check(true, 'a wrong token is refused: 令牌错误');
  await page.fill('#token', token);
  await page.click('#signin-form button');
  await page.waitForSelector('#entry:not([hidden])');
  check((await page.textContent('#county')).includes('五原县'), 'signed in: the county is named (五原县)');
  check(urls.every(u => !u.includes(token)), 'the token never appears in a URL');
  check(await page.evaluate(() => !!sessionStorage.getItem('pufa-entry-token') &&
    !Object.keys(localStorage).some(k => localStorage.getItem(k).includes(sessionStorage.getItem('pufa-entry-token')))),
    'the token is kept in sessionStorage only');
  check((await page.$$eval('select[name=theme] option', o => o.map(x => x.textContent))).includes('民法典'),
    'the theme drop-down has the Chinese labels');
  check((await page.$$eval('select[name=unit_code] option', o => o.length)) > 5, 'the unit drop-down has the units');

  // Fill one report; a negative count is caught in the browser.
  const today = await page.inputValue('input[name=occurred_on]');
  const yesterday = new Date(Date.parse(today) - 86400e3).toISOString().slice(0, 10);
  await page.selectOption('select[name=theme]', { label: '宪法' });
  await page.selectOption('select[name=venue]', { label: '社区' });
  await page.selectOption('select[name=form]', { label: '讲座' });
  await page.selectOption('select[name=unit_code]', 'SFJ');
  await page.fill('input[name=campaign]', '宪法宣传周');
  await page.fill('input[name=title]', '浏览器填报 宪法进社区');
  await page.fill('input[name=sessions]', '1');
  await page.fill('input[name=participants]', '-5');
  await page.fill('input[name=funds_fen]', '12.5');
  await page.click('#submit');
  await page.waitForSelector('.field[data-field=participants].bad');
  check((await page.textContent('.field[data-field=participants] .err')) === '不能小于 0',
    'the browser refuses -5 at its field: 不能小于 0');
  // A rule only the server knows: the end before the start.
  await page.fill('input[name=participants]', '120');
  await page.fill('input[name=ended_on]', yesterday);
  await page.click('#submit');
  await page.waitForSelector('.field[data-field=ended_on].bad');
  const serverMsg = await page.textContent('.field[data-field=ended_on] .err');
  check(serverMsg.startsWith('不能早于活动日期') && serverMsg.includes('must not be before occurred_on'),
    `the server's rule is shown at its field (${serverMsg})`);
  await page.screenshot({ path: `${artifacts}/entry-errors.png`, fullPage: true });

  await page.fill('input[name=ended_on]', '');
  await page.click('#submit');
  await page.waitForSelector('#result-id');
  const id = (await page.textContent('#result-id')).trim();
  check(/^[0-9a-f-]{36}$/.test(id), `accepted, with its report id ${id}`);
  console.log(`REPORT_ID=${id}`);
  check((await stateOf(page)).startsWith('已接收') || (await stateOf(page)).startsWith('报送中') ||
    (await stateOf(page)).startsWith('已入库'), 'listed as received (spooled)');
  await waitState(page, '已入库');
  check(true, 'the list shows it committed (已入库)');
  await page.screenshot({ path: `${artifacts}/entry-committed.png`, fullPage: true });

  // A correction: a new revision of the listed report.
  await page.click('#recent tbody tr:first-child button:has-text("更正")');
  check((await page.textContent('#form-title')).includes('版本 2'), 'the correction loads the report as revision 2');
  check(await page.inputValue('input[name=title]') === '浏览器填报 宪法进社区', 'with its values');
  await page.fill('input[name=participants]', '150');
  await page.click('#submit');
  await page.waitForSelector('#result-id');
  check((await page.textContent('#result')).includes('版本 2'), 'the correction is accepted as revision 2');
  await waitState(page, '已入库');
  check((await page.textContent('#recent tbody tr:first-child td:nth-child(3)')) === '2', 'revision 2 committed');

  // A retraction, after a confirmation.
  let asked = '';
  page.once('dialog', d => { asked = d.message(); d.accept(); });
  await page.click('#recent tbody tr:first-child button:has-text("撤回")');
  await waitState(page, '已撤回');
  check(asked.includes('确定撤回'), `the retraction asked first (${asked})`);
  check((await page.textContent('#recent tbody tr:first-child td:nth-child(3)')) === '3', 'revision 3 retracted and committed');
  await page.screenshot({ path: `${artifacts}/entry-retracted.png`, fullPage: true });

  // A narrow screen: the form fits.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click('#clear-form');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `nothing sticks out on a 390 px screen (${overflow} px)`);
  await page.screenshot({ path: `${artifacts}/entry-narrow.png`, fullPage: true });

  check(foreign.length === 0, 'no request leaves the collector' + (foreign.length ? ': ' + foreign.join(' ') : ''));
  check(errors.length === 0, 'no errors in the page' + (errors.length ? ': ' + errors.join(' | ') : ''));
} catch (e) {
  failures++;
  console.log('not ok -', e.message);
} finally {
  await browser.close();
}
console.log(`${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
