// pufa dashboard, the office's reading (kept apart from app.js): 环比 on the
// KPI cards, the trend of a chosen figure, the duty lists' progress (责任清单)
// with who is behind pace, reporting rate and timeliness with the silent
// units, and the printable 统计表.  Follows app.js's window (state.window)
// and refreshes after each of its refreshes (the 'pufa:refresh' event).  A
// unit's view is ?org=CODE (bookmarkable), as app.js reads it: the selector
// opens that page.  Text from reports and targets is always inserted with
// textContent.
'use strict';

const office = {
  org: new URLSearchParams(location.search).get('org') || '',
  figure: 'participants',
  period: '',
  counties: [],
  busy: null,
};

const FIGURE_LABELS = {
  reports: '上报活动数', sessions: '活动场次', participants: '受教育人次', materials: '发放资料(份)',
  consultations: '接受咨询(人次)', banners: '悬挂条幅(条)', led_messages: 'LED屏播放(条)',
  online_posts: '线上推送(条)', online_views: '阅读量(人次)', volunteers: '讲师志愿者(人)',
  funds_fen: '普法经费(元)',
};
const KPI_FIGURES = { 'k-sessions': 'sessions', 'k-participants': 'participants',
  'k-materials': 'materials', 'k-consultations': 'consultations', 'k-reports': 'reports',
  'k-funds': 'funds_fen' };

function officeFmt(figure, v) {
  return figure === 'funds_fen' ? nf.format(v / 100) : nf.format(v);
}

function orgQuery() {
  return office.org ? '&org=' + encodeURIComponent(office.org) : '';
}

// The county selector (the home or one county) opens /?org=CODE, the page
// a county office bookmarks as its own.
function officeBuild() {
  const root = $('office');
  root.replaceChildren();
  const bar = el('div', null, 'office-bar');
  const sel = el('select');
  sel.id = 'office-org';
  sel.setAttribute('aria-label', '统计范围');
  sel.appendChild(new Option('全部县区', ''));
  for (const c of office.counties) sel.appendChild(new Option(c.name, c.code));
  if (office.org && !office.counties.some(c => c.code === office.org))
    sel.appendChild(new Option(office.org, office.org)); // a unit above a county
  sel.value = office.org;
  sel.addEventListener('change', () => {
    location.href = sel.value ? '/?org=' + encodeURIComponent(sel.value) : '/';
  });
  const print = el('a', '打印统计表');
  print.id = 'office-print';
  print.target = '_blank';
  bar.append(el('span', '查看范围:'), sel, print);
  root.appendChild(bar);

  const trend = el('section', null, 'card wide');
  const h = el('h2');
  const figSel = el('select');
  figSel.id = 'trend-figure';
  figSel.setAttribute('aria-label', '趋势指标');
  for (const [k, v] of Object.entries(FIGURE_LABELS)) figSel.appendChild(new Option(v, k));
  figSel.value = office.figure;
  figSel.addEventListener('change', () => { office.figure = figSel.value; officeTrend(); });
  const perSel = el('select');
  perSel.id = 'trend-period';
  perSel.setAttribute('aria-label', '趋势粒度');
  for (const [k, v] of [['', '自动'], ['day', '按日'], ['week', '按周'], ['month', '按月']])
    perSel.appendChild(new Option(v, k));
  perSel.addEventListener('change', () => { office.period = perSel.value; officeTrend(); });
  const controls = el('span');
  controls.append(figSel, perSel);
  h.append(el('span', '趋势'), controls);
  const c = el('div', null, 'chart');
  c.id = 'chart-trend';
  trend.append(h, c);
  root.appendChild(trend);

  const targets = el('section', null, 'card wide');
  targets.id = 'office-targets';
  targets.append(el('h2', '责任清单完成进度'), el('p', null, 'office-note'),
    el('div', null, 'progress-list'), el('h3', '落后于进度'), el('ul', null, 'behind-list'));
  root.appendChild(targets);

  const comp = el('section', null, 'card wide');
  comp.id = 'office-completeness';
  const table = el('table');
  table.id = 'table-completeness';
  const tr = el('tr');
  for (const t of ['县区', '应报单位', '已报单位', '报送率', '及时率', '最近一次上报', '状态'])
    tr.appendChild(el('th', t));
  table.append(el('thead'), el('tbody'));
  table.tHead.appendChild(tr);
  const silent = el('table');
  silent.id = 'table-silent-units';
  const tr2 = el('tr');
  for (const t of ['县区', '责任单位', '最近一次上报', '逾期月份', '状态']) tr2.appendChild(el('th', t));
  silent.append(el('thead'), el('tbody'));
  silent.tHead.appendChild(tr2);
  comp.append(el('h2', '报送率与及时率'), el('p', null, 'office-note'), table,
    el('h3', '未报送或逾期的责任单位'), silent);
  root.appendChild(comp);
}

// ▲/▼ and the percentage against the preceding period (环比) on every KPI card.
async function officeKpis() {
  const t = await api('/v1/totals?window=' + encodeURIComponent(state.window) +
    '&by=none&compare=prev' + orgQuery());
  for (const [id, fig] of Object.entries(KPI_FIGURES)) {
    const value = $(id);
    if (!value) continue;
    let d = value.parentNode.querySelector('.delta');
    if (!d) { d = el('div', null, 'delta'); d.id = 'd-' + fig; value.after(d); }
    const pct = t.compare.pct[fig];
    const change = t.compare.change[fig];
    d.className = 'delta ' + (change > 0 ? 'up' : change < 0 ? 'down' : 'flat');
    d.textContent = (change > 0 ? '▲ ' : change < 0 ? '▼ ' : '— ') +
      (pct === null ? '新增' : Math.abs(pct).toFixed(1) + '%') + ' 环比';
    d.title = '上期 ' + t.compare.from + ' 至 ' + t.compare.to + ':' + officeFmt(fig, t.compare.base[fig]);
  }
}

async function officeTrend() {
  const w = state.windows.find(x => x.name === state.window);
  let period = office.period;
  if (!period && w) {
    const days = (Date.parse(w.to) - Date.parse(w.from)) / 86400000 + 1;
    period = days <= 62 ? 'day' : days <= 400 ? 'week' : 'month';
  }
  const t = await api('/v1/totals?window=' + encodeURIComponent(state.window) + '&by=' +
    (period || 'day') + orgQuery());
  const fig = office.figure;
  const ch = chart('chart-trend');
  ch.setOption({
    tooltip: { trigger: 'axis' },
    grid: { left: 8, right: 24, top: 24, bottom: 8, containLabel: true },
    xAxis: { type: 'category', data: t.rows.map(r => r.label) },
    yAxis: { type: 'value' },
    series: [{ type: 'line', name: FIGURE_LABELS[fig], smooth: true, showSymbol: t.rows.length < 60,
      data: t.rows.map(r => fig === 'funds_fen' ? r.figures[fig] / 100 : r.figures[fig]),
      itemStyle: { color: '#c62828' }, areaStyle: { opacity: 0.08 } }],
  }, true);
  $('chart-trend').dataset.sum = String(t.rows.reduce((a, r) => a + r.figures[fig], 0));
  $('chart-trend').dataset.points = String(t.rows.length);
}

function progressRow(r) {
  const row = el('div', null, 'progress-row' + (r.behind ? ' behind' : ''));
  row.dataset.org = r.org_code;
  row.dataset.unit = r.unit_code || '';
  row.dataset.figure = r.figure;
  const who = r.unit_name ? r.org_name + ' · ' + r.unit_name : r.org_name;
  const label = el('div', who + ' ' + FIGURE_LABELS[r.figure], 'progress-label');
  const bar = el('div', null, 'progress-bar');
  const fill = el('div', null, 'progress-fill');
  fill.style.width = Math.min(100, r.pct_done || 0) + '%';
  const mark = el('div', null, 'progress-mark');
  mark.style.left = Math.min(100, r.target ? r.expected * 100 / r.target : 0) + '%';
  mark.title = '按进度应完成 ' + officeFmt(r.figure, r.expected);
  bar.append(fill, mark);
  const nums = el('div', officeFmt(r.figure, r.actual) + ' / ' + officeFmt(r.figure, r.target) +
    '(' + (r.pct_done ?? 0).toFixed(1) + '%)', 'progress-nums');
  row.append(label, bar, nums);
  return row;
}

async function officeTargets() {
  const w = state.windows.find(x => x.name === state.window);
  const year = (w ? w.to : new Date().toISOString()).slice(0, 4);
  const box = $('office-targets');
  let t;
  try {
    t = await api('/v1/targets?year=' + year + orgQuery());
  } catch (e) {
    box.querySelector('.office-note').textContent = '责任清单暂不可用:' + e.message;
    return;
  }
  box.querySelector('h2').textContent = year + '年责任清单完成进度';
  box.querySelector('.office-note').textContent = t.rows.length
    ? '截至 ' + (t.to || t.today) + ',全年已过 ' + t.elapsed_days + '/' + t.year_days +
      ' 天;竖线为按时间进度应完成的量。共 ' + t.rows.length + ' 项,落后 ' + t.behind_count + ' 项。'
    : '本年度尚未导入责任清单(pufa migrate --targets)。';
  const list = box.querySelector('.progress-list');
  list.replaceChildren(...t.rows.map(progressRow));
  const behind = box.querySelector('.behind-list');
  behind.replaceChildren(...t.behind.map(r => {
    const who = r.unit_name ? r.org_name + ' · ' + r.unit_name : r.org_name;
    const li = el('li', who + ':' + FIGURE_LABELS[r.figure] + ' 完成 ' + officeFmt(r.figure, r.actual) +
      ',按进度应 ' + officeFmt(r.figure, r.expected) + ',差 ' + officeFmt(r.figure, r.shortfall));
    li.dataset.org = r.org_code;
    li.dataset.unit = r.unit_code || '';
    return li;
  }));
  if (!t.behind.length) behind.appendChild(el('li', '无', 'none'));
}

async function officeCompleteness() {
  const box = $('office-completeness');
  let c;
  try {
    c = await api('/v1/completeness?window=' + encodeURIComponent(state.window) + orgQuery());
  } catch (e) {
    box.querySelector('.office-note').textContent = '报送情况暂不可用:' + e.message;
    return;
  }
  const pct = v => v === null ? '-' : v.toFixed(1) + '%';
  box.querySelector('.office-note').textContent = c.window.label + ':应报 ' + c.totals.expected +
    ' 个责任单位,已报 ' + c.totals.reported + ' 个,报送率 ' + pct(c.totals.rate) + ',及时率 ' +
    pct(c.totals.timeliness) + '(月末后 ' + c.timely_days + ' 天内报送为及时)。';
  const tb = $('table-completeness').tBodies[0];
  tb.replaceChildren(...c.counties.map(k => {
    const tr = el('tr');
    tr.dataset.code = k.code;
    tr.append(el('td', k.name), el('td', k.expected), el('td', k.reported), el('td', pct(k.rate)),
      el('td', pct(k.timeliness)), el('td', k.last_report ?? '从未上报'),
      el('td', k.late ? '逾期' : '正常', k.late ? 'silent' : 'ok'));
    return tr;
  }));
  const names = Object.fromEntries(c.counties.map(k => [k.code, k.name]));
  const su = $('table-silent-units').tBodies[0];
  const late = c.units.filter(u => u.late);
  su.replaceChildren(...late.map(u => {
    const tr = el('tr');
    tr.dataset.county = u.county;
    tr.dataset.unit = u.unit_code;
    tr.append(el('td', names[u.county] || u.county), el('td', u.unit_name),
      el('td', u.last_report ?? '从未上报'), el('td', u.missed_months.join('、') || '-'),
      el('td', u.reported ? '逾期' : '未报送', 'silent'));
    return tr;
  }));
  if (!late.length) {
    const tr = el('tr');
    tr.appendChild(el('td', '全部按时报送', 'ok'));
    su.appendChild(tr);
  }
}

async function officeRefresh() {
  $('office-print').href = '/print?window=' + encodeURIComponent(state.window) + orgQuery();
  const run = Promise.all([officeKpis(), officeTrend(), officeTargets(), officeCompleteness()]);
  office.busy = run;
  await run;
  $('office').dataset.ready = state.window + '|' + office.org + '|' + state.seq;
}

async function officeMain() {
  const meta = await api('/v1/meta');
  office.counties = meta.counties;
  officeBuild();
  document.addEventListener('pufa:refresh', () => logged(officeRefresh()));
  if (state.windows.length) await officeRefresh();
}

// Errors are logged unless the page is being left (app.js's logged(): a click
// through cuts its fetches short).
officeMain().catch(err => { if (!leaving) console.error('office:', err); });
