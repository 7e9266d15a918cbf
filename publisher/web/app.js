// pufa dashboard: reads /v1/meta, /v1/totals and /v1/silent, and refreshes
// whenever /v1/stream announces a new version.  Text from reports is always
// inserted with textContent (never innerHTML).
//
// The page shows the home unit, or the unit of ?org=CODE (a bookmarkable
// URL): its children ranked (counties at a city, cities at a province,
// provinces at the nation); above a city also each child's 数据截至 and link
// (/v1/children), a click opening the child's own view, and a trail back.
'use strict';

const state = { window: '30d', rank: 'reports', seq: null, windows: [], charts: {},
  org: orgParam(), unit: null, by: 'county', links: false, rows: [], children: null };
const nf = new Intl.NumberFormat('zh-CN');

function $(id) { return document.getElementById(id); }

// A refresh cut short by leaving the page (a click to a child's view) is
// no error; any other is logged.
let leaving = false;
window.addEventListener('pagehide', () => { leaving = true; });
window.addEventListener('beforeunload', () => { leaving = true; });
function logged(p) { return p.catch(e => { if (!leaving) console.error(e); }); }

// ?org=CODE of the page's URL, when it is a six-digit code.
function orgParam() {
  const o = new URLSearchParams(location.search).get('org');
  return o && /^[0-9]{6}$/.test(o) ? o : null;
}

// The query suffix that names the unit viewed ('' at the home).
function orgq(first) { return state.org ? (first ? '?' : '&') + 'org=' + state.org : ''; }

// What the children of a unit of this level are, and their breakdown.
const CHILD = {
  nation: { by: 'province', title: '省份排名', head: '省份' },
  province: { by: 'city', title: '地市排名', head: '地市' },
  city: { by: 'county', title: '县区排名', head: '县区' },
  county: { by: 'township', title: '乡镇(街道)排名', head: '乡镇(街道)' }, // townships: office.js's section
};
const LINK_TEXT = { up: '正常', down: '中断', never: '未连接' };

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

async function api(path) {
  const r = await fetch(path, { cache: 'no-store' });
  if (!r.ok) {
    let msg = path + ': ' + r.status;
    try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
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
    b.addEventListener('click', () => { state.window = w.name; renderWindows(); logged(refresh()); });
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
      barMaxWidth: 48, itemStyle: { color: '#c62828' } }]
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
  const q = 'window=' + encodeURIComponent(state.window) + orgq();
  $('export-csv').href = '/v1/export.csv?' + q + '&by=' + state.by + '&rank=' + state.rank;
  $('export-xlsx').href = '/v1/export.xlsx?' + q + '&by=' + state.by + '&rank=' + state.rank;
  $('export-detail').href = '/v1/export.xlsx?' + q + '&detail=reports';
}

// The page's title and the trail from the home down to the unit viewed.
function renderUnit(meta) {
  state.unit = meta.org;
  if (!meta.org) return;
  const child = CHILD[meta.org.level] || CHILD.city;
  state.by = child.by;
  state.links = child.by !== 'county' && child.by !== 'township'; // org units below have links
  document.body.classList.toggle('above-city', state.links);
  document.title = meta.org.name + '普法工作实时统计';
  $('title').textContent = document.title;
  $('rank-title').textContent = child.title;
  $('th-unit').textContent = child.head;
  const trail = $('trail');
  trail.replaceChildren();
  trail.hidden = !meta.path || meta.path.length < 2;
  (meta.path || []).forEach((u, i) => {
    if (i) trail.appendChild(el('span', '›', 'sep'));
    if (i === meta.path.length - 1) { trail.appendChild(el('b', u.name)); return; }
    const a = el('a', u.name);
    a.href = i === 0 ? '/' : '/?org=' + u.code; // the home needs no org
    trail.appendChild(a);
  });
}

// A child's view: the same page with ?org=CODE (bookmarkable).
function childHref(code) { return '/?org=' + encodeURIComponent(code); }

// "2026-11-27T21:40:03+08:00" -> "11-27 21:40:03".
function shortTime(t) { return t ? t.slice(5, 10) + ' ' + t.slice(11, 19) : '-'; }

// The ranking table: the rows with data, then (above a city) every other
// child with zeros, so that a child without data still shows its link.
function renderRanking() {
  const tbody = $('table-county').tBodies[0];
  tbody.replaceChildren();
  const byCode = new Map((state.children?.children || []).map(c => [c.code, c]));
  const rows = state.rows.slice();
  if (state.links && state.children) {
    const have = new Set(rows.map(r => r.key));
    for (const c of state.children.children)
      if (!have.has(c.code))
        rows.push({ rank: rows.length + 1, key: c.code, label: c.name,
          figures: { reports: 0, sessions: 0, participants: 0, materials: 0, consultations: 0 } });
  }
  for (const r of rows) {
    const tr = el('tr');
    tr.dataset.code = r.key;
    const name = el('td');
    if (state.links) {
      const a = el('a', r.label);
      a.href = childHref(r.key);
      name.appendChild(a);
    } else {
      name.textContent = r.label;
    }
    tr.append(el('td', r.rank), name, el('td', nf.format(r.figures.reports)),
      el('td', nf.format(r.figures.sessions)), el('td', nf.format(r.figures.participants)),
      el('td', nf.format(r.figures.materials)), el('td', nf.format(r.figures.consultations)));
    if (state.links) {
      const c = byCode.get(r.key);
      const link = c ? c.link : null;
      const asOf = el('td', c ? shortTime(c.as_of_at) : '-', 'as-of');
      // Through the link of the unit above it (a city seen at the nation).
      const via = c && c.via ? '(经' + c.via.name + ')' : '';
      const state_ = el('td', link ? LINK_TEXT[link] + via : '-', 'link ' + (link || ''));
      if (c) {
        state_.dataset.link = c.link;
        state_.title = '延迟 ' + (c.lag_ms ?? '-') + ' ms,待发 ' + (c.pending ?? '-') + ' 条' +
          (c.last_seen_at ? ',最近联系 ' + shortTime(c.last_seen_at) : '');
      }
      tr.append(asOf, state_);
    }
    tbody.appendChild(tr);
  }
  const note = $('links-note');
  if (state.links) {
    const s = state.children?.summary;
    note.textContent = s ? '链路:正常 ' + s.up + ',中断 ' + s.down + ',未连接 ' + s.never +
      '(' + Math.round(state.children.link_timeout_ms / 1000) + ' 秒内有联系为正常);点击单位名称查看其下级。'
      : '链路状态暂不可用。';
  }
}

async function refreshChildren() {
  if (!state.links) return;
  try { state.children = await api('/v1/children' + orgq(true)); }
  catch (e) { state.children = null; }
  renderRanking();
}

async function refresh() {
  const q = 'window=' + encodeURIComponent(state.window) + orgq();
  const [county, theme, venue, form, unit] = await Promise.all([
    api('/v1/totals?' + q + '&by=' + state.by + '&rank=' + state.rank),
    api('/v1/totals?' + q + '&by=theme'), api('/v1/totals?' + q + '&by=venue'),
    api('/v1/totals?' + q + '&by=form'), api('/v1/totals?' + q + '&by=unit')]);
  setKpis(county.totals);
  $('range').textContent = county.window.label + '(' + county.window.from + ' 至 ' + county.window.to + ')';
  $('seq').textContent = county.seq;
  barChart('chart-county', county.rows, true);
  state.rows = county.rows;
  renderRanking();
  await refreshChildren();
  pieChart('chart-theme', theme.rows);
  barChart('chart-venue', venue.rows, false);
  pieChart('chart-form', form.rows);
  barChart('chart-unit', unit.rows, true);
  exportLinks();
  await refreshSilent();
  document.dispatchEvent(new CustomEvent('pufa:refresh')); // office.js follows
}

async function refreshSilent() {
  const days = $('silent-days').value;
  const s = await api('/v1/silent?days=' + days + orgq());
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
    if (data.seq !== state.seq) { state.seq = data.seq; logged(refresh()); }
  });
  es.onerror = () => { $('live').className = 'dot off'; $('live-text').textContent = '重新连接中…'; };
}

async function main() {
  const meta = await api('/v1/meta' + orgq(true));
  state.windows = meta.windows;
  renderUnit(meta);
  renderWindows();
  if (state.links) {
    // A click on a child's bar opens its view, as its name does.
    chart('chart-county').on('click', p => {
      const r = state.rows.find(x => x.label === p.name);
      if (r) location.href = childHref(r.key);
    });
    // Links change without new data (a child falls silent): poll them.
    setInterval(refreshChildren, 5000);
  }
  $('rank').addEventListener('change', e => { state.rank = e.target.value; logged(refresh()); });
  $('silent-days').addEventListener('change', () => refreshSilent());
  window.addEventListener('resize', () => Object.values(state.charts).forEach(c => c.resize()));
  await refresh();
  live();
}

main().catch(err => { $('live-text').textContent = '加载失败:' + err.message; });
