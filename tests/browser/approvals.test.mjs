// Real-browser test of official figures on the page (publisher/web/
// approvals.js), in Debian chromium via playwright-core: an office signs in
// (name + secret in sessionStorage, never in a URL), submits, the city
// approves, the marks change from 临时 to 正式 live (from the feed, via the
// publisher), an unlock with a reason reopens the county; a wrong secret is
// refused and signs the office out.  Each state is checked against the API
// and screenshots are saved.
//   node approvals.test.mjs PUBLISHER_URL ARTIFACT_DIR SECRETS_DIR MONTH
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [pubUrl, dir, secrets, month] = process.argv.slice(2);
if (!pubUrl || !dir || !secrets || !month) {
  console.error('usage: node approvals.test.mjs PUBLISHER_URL ARTIFACT_DIR SECRETS_DIR MONTH');
  process.exit(64);
}

let failures = 0, passes = 0;
function check(cond, what) {
  if (cond) { passes++; console.log('ok -', what); }
  else { failures++; console.log('not ok -', what); }
}

async function api(path) {
  const r = await fetch(pubUrl + path.replace(/^\//, ''));
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

const secret = name => readFileSync(`${secrets}/${name}.secret`, 'utf8').trim();
const counties = ['150802', '150821', '150822', '150823', '150824', '150825', '150826'];

// The other counties submit through the publisher's proxy, as their own pages would.
async function submitAs(code) {
  const name = 'county-' + code;
  const r = await fetch(pubUrl + 'v1/approvals', { method: 'POST',
    headers: { 'Content-Type': 'application/json',
      Authorization: 'Basic ' + Buffer.from(name + ':' + secret(name)).toString('base64') },
    body: JSON.stringify({ action: 'submit', org: code, month }) });
  if (r.status !== 200) throw new Error(`${name} submit: ${r.status} ${await r.text()}`);
}

async function stateOf(org) {
  const a = await api(`/v1/approvals?period=${month}&org=${org}`);
  return a.org.state;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const errors = [];
const row = code => `#table-approvals tr[data-code="${code}"]`;
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, locale: 'zh-CN' });
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error' && !/401/.test(m.text())) errors.push(m.text()); });
  const urls = [];
  page.on('request', r => urls.push(r.url()));
  await page.goto(pubUrl, { waitUntil: 'load' });
  await page.waitForSelector('#live.on', { timeout: 15000 });
  await page.waitForSelector('#approvals', { timeout: 15000 });
  await page.selectOption('#appr-month', month);
  const ready = async (who, state) => page.waitForFunction(([m, w, c, s]) => {
    const sec = document.getElementById('approvals');
    const tr = document.querySelector(`#table-approvals tr[data-code="${c}"]`);
    return (sec.dataset.ready || '').startsWith(m + '|' + w + '|') && tr && tr.dataset.state === s;
  }, [month, who, '150821', state], { timeout: 15000 });
  await ready('', 'open');
  const before = await api(`/v1/approvals?period=${month}&org=150800`);
  check((await page.$$('#table-approvals tbody tr')).length === 1 + before.children.length,
    `the table has 巴彦淖尔市 and its ${before.children.length} counties`);
  check(await page.textContent(`${row('150821')} td.state`) === '未报送', '五原县 shows 未报送');
  check(await page.getAttribute(`${row('150821')} td.fig:nth-of-type(7)`, 'class') === 'fig provisional',
    "五原县's figures are marked 临时");
  const tot = await api(`/v1/totals?window=${month}-01..${month}-31&by=county&org=150800`);
  const wy = tot.rows.find(r => r.key === '150821')?.figures.participants ?? 0;
  check((await page.textContent(`${row('150821')} td.fig:nth-of-type(7)`)).startsWith(
    new Intl.NumberFormat('zh-CN').format(wy)), `五原县's 受教育人次 is the API's ${wy}`);
  check(await page.$(`${row('150821')} button`) === null, 'no buttons before an office signs in');

  // County 五原县 signs in: its own row gets 报送, no other row a button.
  await page.fill('#appr-office', 'county-150821');
  await page.fill('#appr-secret', secret('county-150821'));
  await page.click('#appr-signin button[type="submit"]');
  await ready('county-150821', 'open');
  check(await page.textContent(`${row('150821')} button`) === '报送', '五原县 sees 报送 on its row');
  check((await page.$$('#table-approvals button')).length === 1, 'and no button on any other row');
  const stored = await page.evaluate(() => sessionStorage.getItem('pufa.office'));
  check(stored && JSON.parse(stored).secret === secret('county-150821'),
    'the secret is kept in sessionStorage');
  check(await page.evaluate(() => localStorage.length) === 0, 'nothing in localStorage');
  await page.screenshot({ path: `${dir}/approvals-signed-in.png`, fullPage: true });
  await page.locator('#approvals').screenshot({ path: `${dir}/approvals-panel-signed-in.png` });
  await page.click(`${row('150821')} button[data-action="submit"]`);
  await ready('county-150821', 'submitted');
  check(await stateOf('150821') === 'submitted', 'the API says 150821 submitted');
  check(await page.textContent(`${row('150821')} td.state`) === '已报送', 'the row shows 已报送 live');
  check(await page.textContent(`${row('150821')} button`) === '解锁', 'and offers 解锁 (take back)');

  // The city: approve once every county submitted; the marks turn 正式.
  for (const c of counties) if (c !== '150821') await submitAs(c);
  await page.click('#appr-signout');
  await page.fill('#appr-office', 'city-150800');
  await page.fill('#appr-secret', secret('city-150800'));
  await page.click('#appr-signin button[type="submit"]');
  await ready('city-150800', 'submitted');
  check(await page.textContent(`${row('150800')} button[data-action="approve"]`) === '审核通过',
    '巴彦淖尔市 sees 审核通过 on its own row');
  check((await page.$$(`#table-approvals tbody tr:not([data-code="150800"]) button[data-action="unlock"]`))
    .length === counties.length, 'and 解锁 on every submitted county');
  await page.click(`${row('150800')} button[data-action="approve"]`);
  await ready('city-150800', 'approved');
  check(await stateOf('150821') === 'approved', 'the API says 150821 approved');
  check(await page.getAttribute(`${row('150821')} td.fig:nth-of-type(7)`, 'class') === 'fig official',
    "五原县's figures turned 正式 live");
  const off = await api(`/v1/totals?window=${month}-01..${month}-31&by=none&status=approved&org=150800`);
  check(await page.getAttribute('#appr-total', 'data-official') === String(off.totals.participants),
    `the official total is the API's status=approved ${off.totals.participants}`);
  const cell = await page.getAttribute(`#table-appr-months td[data-key="150821|${month}"]`, 'class');
  check(cell === 'fig official', `the month grid marks 五原县 ${month} 正式`);
  await page.screenshot({ path: `${dir}/approvals-approved.png`, fullPage: true });
  await page.locator('#approvals').screenshot({ path: `${dir}/approvals-panel-approved.png` });

  // An unlock needs a reason; with one, 五原县 reopens (and the city with it).
  await page.click(`${row('150821')} button[data-action="unlock"]`);
  check(await page.textContent('#appr-msg') === '解锁需要填写原因', 'an unlock without a reason is refused on the page');
  await page.fill('#appr-reason', '五原县更正参与人数');
  await page.click(`${row('150821')} button[data-action="unlock"]`);
  await ready('city-150800', 'open');
  check(await stateOf('150821') === 'open' && await stateOf('150800') === 'open',
    'the API says 150821 and 150800 open again');
  check(await page.textContent(`${row('150821')} td:nth-child(5)`) === '五原县更正参与人数',
    'the row shows the reason');
  check(await page.getAttribute(`${row('150821')} td.fig:nth-of-type(7)`, 'class') === 'fig provisional',
    "五原县's figures are 临时 again");
  check(await page.getAttribute(`${row('150822')} td.fig:nth-of-type(7)`, 'class') === 'fig official',
    "磴口县's stay 正式");
  check(await page.getAttribute(`${row('150800')} td.fig:nth-of-type(7)`, 'class') === 'fig partial',
    "the city's own figures read 部分正式 (6 of its 7 counties official)");
  check(await page.$(`${row('150800')} button[data-action="approve"]`) === null,
    'no 审核通过 while 五原县 is open (the aggregator would refuse it)');
  await page.screenshot({ path: `${dir}/approvals-unlocked.png`, fullPage: true });
  await page.locator('#approvals').screenshot({ path: `${dir}/approvals-panel-unlocked.png` });
  const audit = await api(`/v1/audit?org=150821&period=${month}`);
  check(audit.audit.some(a => a.action === 'unlock' && a.reason === '五原县更正参与人数'),
    'the audit lists the unlock with its reason');

  // A wrong secret: the aggregator's 401 signs the office out.
  await page.click('#appr-signout');
  await page.fill('#appr-office', 'county-150821');
  await page.fill('#appr-secret', 'not-the-secret');
  await page.click('#appr-signin button[type="submit"]');
  await ready('county-150821', 'open');
  await page.click(`${row('150821')} button[data-action="submit"]`);
  await page.waitForFunction(() => !sessionStorage.getItem('pufa.office'), null, { timeout: 10000 });
  check((await page.textContent('#appr-msg')).startsWith('口令不正确'), 'a wrong secret signs the office out');
  check(await stateOf('150821') === 'open', 'and changes nothing');
  const leaked = urls.filter(u => u.includes(secret('county-150821')) || u.includes(secret('city-150800'))
    || u.includes('not-the-secret'));
  check(leaked.length === 0, 'no secret in any URL the page requested');
  check(errors.length === 0, 'no errors in the page' + (errors.length ? ': ' + errors.join(' | ') : ''));
} catch (e) {
  failures++;
  console.log('not ok -', e.message + (errors.length ? ' (page errors: ' + errors.join(' | ') + ')' : ''));
} finally {
  await browser.close();
}
console.log(`${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
