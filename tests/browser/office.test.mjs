// Real-browser test of the office's reading (publisher/web/office.js and
// the print page), in Debian chromium via playwright-core: the trend chart,
// 环比 on the KPI cards, a county's view reached by a click (its URL is
// ?org=CODE), the targets' progress bars and behind-pace list, the silent
// units, and the printable 统计表, each checked against the API's numbers
// and saved as a screenshot.
//   node office.test.mjs PUBLISHER_URL ARTIFACT_DIR
import { chromium } from 'playwright-core';

const [pubUrl, dir] = process.argv.slice(2);
if (!pubUrl || !dir) {
  console.error('usage: node office.test.mjs PUBLISHER_URL ARTIFACT_DIR');
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

const nf = new Intl.NumberFormat('zh-CN');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 }, locale: 'zh-CN' });
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(pubUrl, { waitUntil: 'load' });
  await page.waitForSelector('#live.on', { timeout: 15000 });

  // The trend of the whole sample, by month: its points sum to the total.
  await page.click('nav button[data-window="all"]');
  await page.waitForFunction(() => (document.getElementById('office').dataset.ready || '')
    .startsWith('all|'), null, { timeout: 15000 });
  await page.selectOption('#trend-figure', 'participants');
  await page.selectOption('#trend-period', 'month');
  const months = await api('/v1/totals?window=all&by=month');
  await page.waitForFunction(n => document.getElementById('chart-trend').dataset.points === String(n),
    months.rows.length, { timeout: 10000 });
  const sum = Number(await page.getAttribute('#chart-trend', 'data-sum'));
  check(sum === months.totals.participants,
    `the trend's ${months.rows.length} months sum to the API's participants (${sum})`);
  check(await page.isVisible('#chart-trend canvas'), 'the trend chart is drawn');
  await page.locator('#chart-trend').screenshot({ path: `${dir}/office-trend.png` });

  // 环比 on the KPI cards: the arrow and the API's percentage.
  await page.click('nav button[data-window="ytd"]');
  await page.waitForFunction(() => (document.getElementById('office').dataset.ready || '')
    .startsWith('ytd|'), null, { timeout: 15000 });
  const ytd = await api('/v1/totals?window=ytd&by=none&compare=prev');
  const pct = ytd.compare.pct.participants, change = ytd.compare.change.participants;
  const want = (change > 0 ? '▲ ' : change < 0 ? '▼ ' : '— ') +
    (pct === null ? '新增' : Math.abs(pct).toFixed(1) + '%') + ' 环比';
  check((await page.textContent('#d-participants')) === want,
    `the 受教育人次 card shows "${want}" as /v1/totals?compare=prev gives it`);

  // A county's view, reached by a click: its own page /?org=150821.
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }),
    page.selectOption('#office-org', '150821')]);
  check(new URL(page.url()).searchParams.get('org') === '150821', 'the county view is /?org=150821');
  await page.waitForSelector('nav button[data-window="ytd"]', { timeout: 15000 });
  await page.click('nav button[data-window="ytd"]');
  await page.waitForFunction(() => (document.getElementById('office').dataset.ready || '')
    .startsWith('ytd|150821|'), null, { timeout: 15000 });
  const county = await api('/v1/totals?window=ytd&by=none&org=150821');
  check((await page.textContent('#k-participants')) === nf.format(county.totals.participants),
    `五原县's 受教育人次 card shows the API's ${county.totals.participants}`);

  // The targets: one bar per target, the behind list as the API has it.
  const year = ytd.window.to.slice(0, 4);
  const targets = await api(`/v1/targets?year=${year}&org=150821`);
  check(targets.rows.length > 0, `五原县 has ${targets.rows.length} targets in ${year}`);
  check(await page.locator('#office-targets .progress-row').count() === targets.rows.length,
    'one progress bar per target');
  check(await page.locator('#office-targets .behind-list li:not(.none)').count() === targets.behind_count,
    `the behind-pace list has the API's ${targets.behind_count}`);
  for (const r of targets.rows) {
    const sel = `#office-targets .progress-row[data-unit="${r.unit_code || ''}"][data-figure="${r.figure}"]`;
    const nums = await page.textContent(`${sel} .progress-nums`);
    const f = v => r.figure === 'funds_fen' ? nf.format(v / 100) : nf.format(v);
    check(nums.startsWith(`${f(r.actual)} / ${f(r.target)}`),
      `${r.unit_code || r.org_code} ${r.figure}: ${nums} (API ${r.actual} / ${r.target})`);
  }
  await page.locator('#office-targets').screenshot({ path: `${dir}/office-targets.png` });

  // The silent units of the county: the API's late units, named.
  const comp = await api('/v1/completeness?window=ytd&org=150821');
  const late = comp.units.filter(u => u.late);
  const rows = await page.locator('#table-silent-units tbody tr[data-unit]').count();
  check(rows === late.length, `the silent-units table lists the API's ${late.length} late units`);
  await page.screenshot({ path: `${dir}/office-county.png`, fullPage: true });

  // Back to the home with the browser's back button.
  await page.goBack({ waitUntil: 'load' });
  await page.waitForFunction(() => document.getElementById('office-org') &&
    document.getElementById('office-org').value === '', null, { timeout: 10000 });
  check(true, 'the back button returns to the home');

  // The printable 统计表 of 巴彦淖尔市: its 合计 = the sum of its counties' rows in the API.
  const print = await browser.newPage({ viewport: { width: 1200, height: 850 }, locale: 'zh-CN' });
  print.on('pageerror', e => errors.push(String(e)));
  await print.goto(`${pubUrl}print?window=ytd&org=150800`, { waitUntil: 'load' });
  const title = await print.textContent('#title');
  check(title.startsWith('巴彦淖尔市普法工作统计表（' + year + '年'), `the print title: ${title}`);
  const byCounty = await api('/v1/totals?window=ytd&by=county');
  const cityParticipants = byCounty.rows.filter(r => r.key.startsWith('1508'))
    .reduce((a, r) => a + r.figures.participants, 0);
  const total = await print.textContent('tr.total td[data-figure="participants"]');
  check(total === nf.format(cityParticipants).replace(/\s/g, ','),
    `the 合计 row's 受教育 (${total}) = the API's 1508xx counties (${cityParticipants})`);
  const wy = await print.textContent('#stat tbody tr:nth-child(2) td[data-figure="participants"]');
  const wyApi = byCounty.rows.find(r => r.key === '150821');
  check(wy === nf.format(wyApi ? wyApi.figures.participants : 0), `五原县's row: ${wy}`);
  await print.emulateMedia({ media: 'print' });
  check(!(await print.isVisible('nav.noprint')), 'the print buttons are hidden when printing');
  await print.screenshot({ path: `${dir}/print.png`, fullPage: true });
  await print.pdf({ path: `${dir}/print.pdf`, landscape: true, format: 'A4' });
  check(true, 'the print page renders to an A4 landscape PDF');
  check(errors.length === 0, 'no errors in the pages' + (errors.length ? ': ' + errors.join(' | ') : ''));
} catch (e) {
  failures++;
  console.log('not ok -', e.message + (errors.length ? ' (page errors: ' + errors.join(' | ') + ')' : ''));
} finally {
  await browser.close();
}
console.log(`${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
