// Real-browser test of the page above a city (Debian chromium driven by
// playwright-core), against a publisher whose home is the nation: the title
// names the home, the provinces are ranked with the API's figures and with
// their links (数据截至, 正常/中断 as /v1/children says), a click opens a
// province's view (?org=CODE, its cities) and a city's (its counties), the
// URL is a bookmark, and the trail leads back.  Saves screenshots.
//   node hierarchy.test.mjs PUBLISHER_URL ARTIFACTS_DIR
import { chromium } from 'playwright-core';

const [pubUrl, artifacts] = process.argv.slice(2);
if (!pubUrl || !artifacts) {
  console.error('usage: node hierarchy.test.mjs PUBLISHER_URL ARTIFACTS_DIR');
  process.exit(64);
}

let failures = 0, passes = 0;
function check(cond, what) {
  if (cond) { passes++; console.log('ok -', what); }
  else { failures++; console.log('not ok -', what); }
}

async function api(path) {
  const r = await fetch(pubUrl + path.replace(/^\//, ''));
  return r.json();
}

const nf = new Intl.NumberFormat('zh-CN');

// The ranking table's rows: {code, name, reports, asOf, link}.
async function tableRows(page) {
  return page.$$eval('#table-county tbody tr', trs => trs.map(tr => ({
    code: tr.dataset.code,
    name: tr.children[1].textContent,
    reports: tr.children[2].textContent,
    asOf: tr.querySelector('td.as-of')?.textContent ?? null,
    link: tr.querySelector('td.link')?.dataset.link ?? null,
  })));
}

// Waits until the table lists every row of the API's breakdown.
async function waitRows(page, n) {
  await page.waitForFunction(k => document.querySelectorAll('#table-county tbody tr').length >= k,
    n, { timeout: 10000 });
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
  await page.goto(pubUrl, { waitUntil: 'load' });
  await page.waitForSelector('#live.on', { timeout: 15000 });
  await page.click('nav button[data-window="all"]');

  // The nation: its provinces.
  check((await page.textContent('h1')) === '全国普法工作实时统计', 'the nation page is titled 全国');
  check((await page.textContent('#rank-title')) === '省份排名', 'it ranks provinces (省份排名)');
  const byProv = await api('/v1/totals?window=all&by=province');
  const children = await api('/v1/children');
  await page.waitForFunction(n => document.getElementById('k-reports').textContent === n,
    nf.format(byProv.totals.reports), { timeout: 10000 });
  check(true, `the KPI shows the API's ${byProv.totals.reports} reports`);
  await waitRows(page, children.children.length);
  await page.waitForSelector('#table-county td.link[data-link]', { timeout: 10000 });
  let rows = await tableRows(page);
  for (const r of byProv.rows) {
    const shown = rows.find(x => x.code === r.key);
    check(shown && shown.name === r.label && shown.reports === nf.format(r.figures.reports),
      `${r.label}: ${nf.format(r.figures.reports)} reports, as the API says (${shown?.reports})`);
  }
  for (const c of children.children) {
    const shown = rows.find(x => x.code === c.code);
    check(shown && shown.link === c.link,
      `${c.name}: link ${shown?.link} as /v1/children says (${c.link})`);
    check(shown && (c.as_of_at ? shown.asOf === c.as_of_at.slice(5, 10) + ' ' +
      c.as_of_at.slice(11, 19) : shown.asOf === '-'), `${c.name}: 数据截至 ${shown?.asOf}`);
  }
  check(rows.find(x => x.code === '150000')?.link === 'up' &&
        rows.find(x => x.code === '210000')?.link === 'down',
    '内蒙古 is up, 辽宁 down (the rows run.sh wrote)');
  check(await page.isVisible('#table-county td.link.down >> text=中断'),
    'a down link reads 中断 on the page');
  await page.screenshot({ path: `${artifacts}/hierarchy-nation.png`, fullPage: true });

  // A click on a province: its view, at a bookmarkable URL.
  await page.click('#table-county a >> text=内蒙古自治区');
  await page.waitForURL(/\?org=150000$/, { timeout: 10000 });
  await page.waitForFunction(() => document.getElementById('title')?.textContent ===
    '内蒙古自治区普法工作实时统计', null, { timeout: 10000 });
  check(true, 'the click opened ?org=150000, titled 内蒙古自治区');
  check((await page.textContent('#rank-title')) === '地市排名', 'it ranks cities (地市排名)');
  check((await page.textContent('#trail')).replace(/\s/g, '') === '全国›内蒙古自治区',
    'the trail reads 全国 › 内蒙古自治区');
  await page.click('nav button[data-window="all"]');
  const prov = await api('/v1/totals?window=all&by=city&org=150000');
  await page.waitForFunction(n => document.getElementById('k-reports').textContent === n,
    nf.format(prov.totals.reports), { timeout: 10000 });
  check(true, `the province's KPI shows the API's ${prov.totals.reports} reports`);
  await waitRows(page, 1);
  rows = await tableRows(page);
  check(rows.some(r => r.name === '巴彦淖尔市'), 'the province lists 巴彦淖尔市');
  check(!rows.some(r => r.name === '抚顺市'), 'and not 抚顺市 (another province)');
  await page.waitForSelector('#table-county td.link[data-link]', { timeout: 10000 });
  check(await page.isVisible('#table-county td.link >> text=正常(经内蒙古自治区)'),
    "巴彦淖尔市's link is the province's, and says so (正常(经内蒙古自治区))");
  await page.screenshot({ path: `${artifacts}/hierarchy-province.png`, fullPage: true });

  // On to the city: its counties, as the city's own page shows them.
  await page.click('#table-county a >> text=巴彦淖尔市');
  await page.waitForURL(/\?org=150800$/, { timeout: 10000 });
  await page.waitForFunction(() => document.getElementById('rank-title')?.textContent === '县区排名',
    null, { timeout: 10000 });
  check((await page.textContent('h1')) === '巴彦淖尔市普法工作实时统计', 'the city view is titled 巴彦淖尔市');
  await page.click('nav button[data-window="all"]');
  await page.waitForSelector('#table-county >> text=五原县', { timeout: 10000 });
  check(true, 'the city view lists 五原县');
  check(!(await page.isVisible('th.link-col')), 'the city view has no link columns (counties)');

  // The URL is a bookmark: opened afresh, the same view.
  const bookmark = page.url();
  const again = await browser.newPage({ viewport: { width: 1400, height: 900 }, locale: 'zh-CN' });
  await again.goto(bookmark, { waitUntil: 'load' });
  await again.waitForFunction(() => document.getElementById('title')?.textContent ===
    '巴彦淖尔市普法工作实时统计', null, { timeout: 10000 });
  check(true, `the bookmark ${bookmark} opens the city's view`);
  await again.close();

  // And back, by the trail: the nation.
  await page.click('#trail a >> text=全国');
  await page.waitForURL(u => new URL(u).search === '', { timeout: 10000 });
  await page.waitForFunction(() => document.getElementById('title')?.textContent ===
    '全国普法工作实时统计', null, { timeout: 10000 });
  check(new URL(page.url()).search === '', 'the trail leads back to the home (no org=)');

  // A unit outside the home: the page says why.
  await page.goto(pubUrl + '?org=990100', { waitUntil: 'load' });
  await page.waitForFunction(() => document.getElementById('live-text')?.textContent.includes('990100'),
    null, { timeout: 10000 });
  check((await page.textContent('#live-text')).includes('990100 is not an org unit'),
    'an unknown org= is named on the page');
  const unexpected = errors.filter(e => !e.includes('400'));
  check(unexpected.length === 0, 'no errors in the page' + (unexpected.length ? ': ' + unexpected.join(' | ') : ''));
} catch (e) {
  failures++;
  console.log('not ok -', e.message);
} finally {
  await browser.close();
}
console.log(`${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
