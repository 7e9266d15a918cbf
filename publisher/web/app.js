// pufa dashboard: reads /v1/meta, /v1/totals and /v1/silent, and refreshes
// whenever /v1/stream announces a new version.  Text from reports is always
// inserted with textContent (never innerHTML).
'use strict';

const state = { window: '30d', rank: 'reports', seq: null, windows: [], charts: {} };
const nf = new Intl.NumberFormat('zh-CN');

function $(id) { return document.getElementById(id); }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

async function api(path) {
  const r = await fetch(path, { cache: 'no-store' });
  if (!r.ok) throw new Error(path + ': ' + r.status);
  return r.json();
}

function chart(id) {
  if (!state.charts[id]) state.charts[id] = echarts.init($(id), null, { locale: 'ZH' });
  return state.charts[id];
}

function renderWindows() {
  const nav = $('windows');
  nav.replaceChildren();
  for (const w of state.windows) {
    const b = el('button', w.label);
    b.dataset.window = w.name;
    b.title = w.from + ' 至 ' + w.to;
    if (w.name === state.window) b.classList.add('active');
    b.addEventListener('click', () => { state.window = w.name; renderWindows(); refresh(); });
    nav.appendChild(b);
  }
}

function barChart(id, rows, horizontal) {
  const labels = rows.map(r => r.label);
  const values = rows.map(r => r.figures[state.rank] ?? r.figures.reports);
  chart(id).setOption({
    tooltip: { trigger: 'axis' },
    grid: { left: 8, right: 24, top: 10, bottom: 8, containLabel: true },
    xAxis: horizontal ? { type: 'value' } : { type: 'category', data: labels, axisLabel: { interval: 0, rotate: 30 } },
    yAxis: horizontal ? { type: 'category', data: labels.slice().reverse() } : { type: 'value' },
    series: [{ type: 'bar', data: horizontal ? values.slice().reverse() : values,
      itemStyle: { color: '#c62828' } }]
  }, true);
}

function pieChart(id, rows) {
  chart(id).setOption({
    tooltip: { trigger: 'item', formatter: '{b}: {c} ({d}%)' },
    series: [{ type: 'pie', radius: ['35%', '65%'],
      data: rows.map(r => ({ name: r.label, value: r.figures.reports })) }]
  }, true);
}

function setKpis(t) {
  $('k-sessions').textContent = nf.format(t.sessions);
  $('k-participants').textContent = nf.format(t.participants);
  $('k-materials').textContent = nf.format(t.materials);
  $('k-consultations').textContent = nf.format(t.consultations);
  $('k-reports').textContent = nf.format(t.reports);
  $('k-funds').textContent = nf.format(t.funds_fen / 100);
}

function exportLinks() {
  const q = 'window=' + encodeURIComponent(state.window);
  $('export-csv').href = '/v1/export.csv?' + q + '&by=county&rank=' + state.rank;
  $('export-xlsx').href = '/v1/export.xlsx?' + q + '&by=county&rank=' + state.rank;
  $('export-detail').href = '/v1/export.xlsx?' + q + '&detail=reports';
}

async function refresh() {
  const q = 'window=' + encodeURIComponent(state.window);
  const [county, theme, venue, form, unit] = await Promise.all([
    api('/v1/totals?' + q + '&by=county&rank=' + state.rank),
    api('/v1/totals?' + q + '&by=theme'), api('/v1/totals?' + q + '&by=venue'),
    api('/v1/totals?' + q + '&by=form'), api('/v1/totals?' + q + '&by=unit')]);
  setKpis(county.totals);
  $('range').textContent = county.window.label + '(' + county.window.from + ' 至 ' + county.window.to + ')';
  $('seq').textContent = county.seq;
  barChart('chart-county', county.rows, true);
  const tbody = $('table-county').tBodies[0];
  tbody.replaceChildren();
  for (const r of county.rows) {
    const tr = el('tr');
    tr.append(el('td', r.rank), el('td', r.label), el('td', nf.format(r.figures.reports)),
      el('td', nf.format(r.figures.sessions)), el('td', nf.format(r.figures.participants)),
      el('td', nf.format(r.figures.materials)), el('td', nf.format(r.figures.consultations)));
    tbody.appendChild(tr);
  }
  pieChart('chart-theme', theme.rows);
  barChart('chart-venue', venue.rows, false);
  pieChart('chart-form', form.rows);
  barChart('chart-unit', unit.rows, true);
  exportLinks();
  await refreshSilent();
}

async function refreshSilent() {
  const days = $('silent-days').value;
  const s = await api('/v1/silent?days=' + days);
  $('silent-summary').textContent = '近' + days + '天内未报送的县区:' + s.silent_counties + ' 个';
  const tbody = $('table-liveness').tBodies[0];
  tbody.replaceChildren();
  for (const c of s.counties) {
    const tr = el('tr');
    tr.append(el('td', c.name), el('td', c.last_report ?? '从未上报'),
      el('td', c.days_since ?? '-'), el('td', c.silent ? '未报送' : '正常', c.silent ? 'silent' : 'ok'));
    tbody.appendChild(tr);
  }
}

function live() {
  const es = new EventSource('/v1/stream');
  es.addEventListener('update', ev => {
    $('live').className = 'dot on';
    $('live-text').textContent = '实时';
    const data = JSON.parse(ev.data);
    if (data.seq !== state.seq) { state.seq = data.seq; refresh().catch(console.error); }
  });
  es.onerror = () => { $('live').className = 'dot off'; $('live-text').textContent = '重新连接中…'; };
}

async function main() {
  const meta = await api('/v1/meta');
  state.windows = meta.windows;
  renderWindows();
  $('rank').addEventListener('change', e => { state.rank = e.target.value; refresh(); });
  $('silent-days').addEventListener('change', () => refreshSilent());
  window.addEventListener('resize', () => Object.values(state.charts).forEach(c => c.resize()));
  await refresh();
  live();
}

main().catch(err => { $('live-text').textContent = '加载失败:' + err.message; });
