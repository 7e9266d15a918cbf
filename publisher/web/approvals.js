// pufa dashboard, official figures (kept apart from app.js and office.js):
// per child of the unit viewed and per month, the approval state (open,
// submitted, approved, accepted: /v1/approvals) and its figures marked
// 正式 (approved or accepted: they no longer change without an unlock) or
// 临时 (provisional); the official total (/v1/totals?status=approved); and an
// office sign-in that shows the buttons that office may use.
//
// The office's name and secret are kept in sessionStorage (gone with the
// tab) and sent only as the Authorization header of POST /v1/approvals,
// which the publisher forwards to the aggregator (the single writer, which
// checks them); never in a URL.  States change on the page when the feed
// brings them (the 'pufa:refresh' event after app.js's refresh), not from
// the POST's answer, so what is shown is what the publisher serves.
'use strict';

const appr = { month: null, months: [], office: null, unit: null, seq: null };
const STATE_TEXT = { open: '未报送', submitted: '已报送', approved: '已审核', accepted: '已确认' };
const ROLE_TEXT = { submitter: '县区报送', approver: '地市审核', acceptor: '省级确认' };
const ACTION_TEXT = { submit: '报送', approve: '审核通过', accept: '确认', unlock: '解锁' };
const LEVEL_BY = { nation: 'province', province: 'city', city: 'county', county: 'none' };
const OFFICE_KEY = 'pufa.office';

function apprOfficial(s) { return s === 'approved' || s === 'accepted'; }

// The last n months "YYYY-MM", newest first, in the city's calendar (UTC+8).
function apprMonthKeys(n) {
  const now = new Date(Date.now() + 8 * 3600e3);
  let y = now.getUTCFullYear(), m = now.getUTCMonth() + 1;
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push(y + '-' + String(m).padStart(2, '0'));
    if (--m === 0) { m = 12; y--; }
  }
  return out;
}

function apprWindow(key) {
  const [y, m] = key.split('-').map(Number);
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return key + '-01..' + key + '-' + String(last).padStart(2, '0');
}

function apprLoadOffice() {
  try { return JSON.parse(sessionStorage.getItem(OFFICE_KEY)); } catch (e) { return null; }
}

function apprBasic(o) {
  const bytes = new TextEncoder().encode(o.name + ':' + o.secret);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return 'Basic ' + btoa(bin);
}

// "2026-11-27T17:07:21Z" in the city's time (UTC+8): "2026-11-28 01:07:21".
function apprTime(t) {
  if (!t) return '-';
  return new Date(Date.parse(t) + 8 * 3600e3).toISOString().slice(0, 19).replace('T', ' ');
}

function apprMsg(text, bad) {
  const p = $('appr-msg');
  p.textContent = text;
  p.className = bad ? 'appr-msg bad' : 'appr-msg';
}

// Is unit code under (or) the office's unit?  GB/T 2260 codes nest by
// prefix: a city's counties share its first four digits, a province's its
// first two.
function apprUnder(code, o) {
  if (code === o.org) return true;
  const keep = { nation: 0, province: 2, city: 4 }[o.level];
  return keep !== undefined && code.slice(0, keep) === o.org.slice(0, keep);
}

// The actions office o may take on unit u (a row) in state s; kids: the
// states of u's children shown (a unit is approved or accepted only when
// each child is submitted or approved, or above: the aggregator says 409
// otherwise, so the button waits for them).
function apprActions(o, u, s, kids) {
  if (!o) return [];
  const own = u.code === o.org, acts = [];
  if (o.role === 'submitter') {
    if (own && s === 'open') acts.push('submit');
    if (own && s === 'submitted') acts.push('unlock');
    return acts;
  }
  const rank = { open: 0, submitted: 1, approved: 2, accepted: 3 };
  const ready = need => kids.every(k => rank[k] >= need);
  if (own && o.role === 'approver' && rank[s] < 2 && ready(1)) acts.push('approve');
  if (own && o.role === 'acceptor' && rank[s] < 3 && ready(2)) acts.push('accept');
  if (s !== 'open' && apprUnder(u.code, o)) acts.push('unlock');
  return acts;
}

function apprBuild() {
  const sec = el('section', null, 'card wide');
  sec.id = 'approvals';
  const h2 = el('h2', '审核与正式数据');
  const sel = el('select');
  sel.id = 'appr-month';
  sel.setAttribute('aria-label', '审核月份');
  for (const k of appr.months) sel.appendChild(new Option(k.replace('-', '年') + '月', k));
  sel.value = appr.month;
  sel.addEventListener('change', () => { appr.month = sel.value; logged(apprRefresh()); });
  h2.appendChild(sel);
  const bar = el('div', null, 'appr-bar');
  bar.id = 'appr-bar';
  const msg = el('p', '', 'appr-msg');
  msg.id = 'appr-msg';
  msg.setAttribute('role', 'status');
  const table = el('table');
  table.id = 'table-approvals';
  const head = el('tr');
  for (const t of ['单位', '审核状态', '设置人', '时间', '原因', '上报活动数', '受教育人次', '操作'])
    head.appendChild(el('th', t));
  table.append(el('thead'), el('tbody'));
  table.tHead.appendChild(head);
  const total = el('p', '', 'appr-total');
  total.id = 'appr-total';
  const h3 = el('h3', '所选月份及之前5个月:各单位受教育人次(正式 = 已审核或已确认,临时 = 尚可更改)');
  const grid = el('table');
  grid.id = 'table-appr-months';
  grid.append(el('thead'), el('tbody'));
  sec.append(h2, bar, msg, table, total, h3, grid);
  $('office').after(sec);
  apprRenderBar();
}

// The sign-in form, or who is signed in with the unlock reason and 退出.
function apprRenderBar() {
  const bar = $('appr-bar');
  bar.replaceChildren();
  const o = appr.office;
  if (!o) {
    // POST, and JS only: the secret never reaches a URL, not even without JS.
    const f = el('form');
    f.id = 'appr-signin';
    f.method = 'post';
    f.action = '/v1/approvals/no-script';
    const name = el('input');
    name.id = 'appr-office';
    name.placeholder = '审核办公室账号(如 city-150800)';
    name.autocomplete = 'username';
    const secret = el('input');
    secret.id = 'appr-secret';
    secret.type = 'password';
    secret.placeholder = '口令';
    secret.autocomplete = 'current-password';
    const go = el('button', '登录');
    go.type = 'submit';
    f.append(el('span', '办公室登录:'), name, secret, go);
    f.addEventListener('submit', ev => { ev.preventDefault(); logged(apprSignIn(name.value.trim(), secret.value)); });
    bar.appendChild(f);
    return;
  }
  const who = el('span', null, 'appr-who');
  who.id = 'appr-who';
  who.append(el('b', o.name), el('span', ' ' + o.orgName + ' · ' + (ROLE_TEXT[o.role] || o.role)));
  const reason = el('input');
  reason.id = 'appr-reason';
  reason.placeholder = '解锁原因(解锁时必填)';
  reason.maxLength = 500;
  const out = el('button', '退出');
  out.id = 'appr-signout';
  out.type = 'button';
  out.addEventListener('click', () => apprSignOut('已退出'));
  bar.append(who, reason, out);
}

async function apprSignIn(name, secret) {
  if (!name || !secret) { apprMsg('请填写办公室账号和口令', true); return; }
  let info;
  try { info = await api('/v1/office?name=' + encodeURIComponent(name)); }
  catch (e) { apprMsg('登录失败:' + e.message, true); return; }
  appr.office = { name, secret, org: info.org.code, orgName: info.org.name, level: info.org.level,
    role: info.role };
  sessionStorage.setItem(OFFICE_KEY, JSON.stringify(appr.office));
  apprRenderBar();
  apprMsg('已登录:' + name + '(' + info.org.name + ' ' + (ROLE_TEXT[info.role] || info.role) +
    ')。口令由审核服务在每次操作时核验。');
  await apprRefresh();
}

function apprSignOut(why) {
  appr.office = null;
  sessionStorage.removeItem(OFFICE_KEY);
  apprRenderBar();
  apprMsg(why, false);
  logged(apprRefresh());
}

async function apprAct(action, u) {
  const o = appr.office;
  const reason = ($('appr-reason')?.value || '').trim();
  if (action === 'unlock' && !reason) {
    apprMsg('解锁需要填写原因', true);
    $('appr-reason').focus();
    return;
  }
  const body = { action, org: u.code, month: appr.month };
  if (reason && action === 'unlock') body.reason = reason;
  const r = await fetch('/v1/approvals', { method: 'POST', cache: 'no-store',
    headers: { 'Content-Type': 'application/json', Authorization: apprBasic(o) },
    body: JSON.stringify(body) });
  let ans = {};
  try { ans = await r.json(); } catch (e) { /* not JSON */ }
  if (r.status === 401) { apprSignOut('口令不正确,请重新登录(' + (ans.error || r.status) + ')'); return; }
  if (!r.ok) { apprMsg(ACTION_TEXT[action] + '未完成:' + (ans.error || r.status), true); return; }
  if (action === 'unlock') $('appr-reason').value = '';
  apprMsg(ACTION_TEXT[action] + '已完成:' + u.name + ' ' + appr.month + '(页面随数据更新)');
}

// A figure marked 正式, 临时, or (a unit over its children) 部分正式 when
// only some of them are official; official: true, false or 'part'.
function apprFigureCell(fig, official, key) {
  const kind = official === 'part' ? 'partial' : official ? 'official' : 'provisional';
  const td = el('td', nf.format(fig ?? 0), 'fig ' + kind);
  td.appendChild(el('span', { official: '正式', provisional: '临时', partial: '部分正式' }[kind], 'mark'));
  if (key) td.dataset.key = key;
  return td;
}

async function apprMonth(key, by) {
  const org = appr.unit.code;
  const [st, tot] = await Promise.all([
    api('/v1/approvals?period=' + key + '&org=' + org),
    api('/v1/totals?window=' + apprWindow(key) + '&by=' + by + '&org=' + org)]);
  const figs = new Map(tot.rows.map(r => [r.key, r.figures]));
  return { st, tot, figs };
}

async function apprRefresh() {
  if (!appr.unit || !appr.month) return;
  const org = appr.unit.code, by = LEVEL_BY[appr.unit.level] || 'county';
  const [cur, official] = await Promise.all([apprMonth(appr.month, by),
    api('/v1/totals?window=' + apprWindow(appr.month) + '&by=none&status=approved&org=' + org)]);
  const units = [cur.st.org, ...cur.st.children];
  const tbody = $('table-approvals').tBodies[0];
  tbody.replaceChildren();
  const kids = cur.st.children, nOfficial = kids.filter(k => k.official).length;
  for (const u of units) {
    const own = u.code === org;
    const f = own ? cur.tot.totals : cur.figs.get(u.code) || {};
    // The unit's own figures are its children's: official as far as they are.
    const official = own && kids.length && !u.official && nOfficial ? 'part' : u.official;
    const tr = el('tr', null, own ? 'self' : '');
    tr.dataset.code = u.code;
    tr.dataset.state = u.state;
    tr.append(el('td', u.name), el('td', STATE_TEXT[u.state] || u.state, 'state ' + u.state),
      el('td', u.set_by || '-'), el('td', apprTime(u.set_at)),
      el('td', u.reason || ''), apprFigureCell(f.reports, official),
      apprFigureCell(f.participants, official));
    const ops = el('td', null, 'ops');
    for (const a of apprActions(appr.office, u, u.state, own ? kids.map(k => k.state) : [])) {
      const b = el('button', ACTION_TEXT[a]);
      b.type = 'button';
      b.dataset.action = a;
      b.addEventListener('click', () => logged(apprAct(a, u)));
      ops.appendChild(b);
    }
    tr.appendChild(ops);
    tbody.appendChild(tr);
  }
  const all = cur.tot.totals.participants, off = official.totals.participants;
  $('appr-total').textContent = appr.month + ' 正式合计(已审核):受教育人次 ' + nf.format(off) +
    ';含临时数据:' + nf.format(all) + (all === off ? '' : '(临时 ' + nf.format(all - off) + ')');
  $('appr-total').dataset.official = off;
  await apprGrid(by, cur);
  $('approvals').dataset.ready = appr.month + '|' + (appr.office ? appr.office.name : '') + '|' +
    cur.st.seq;
}

// The children x the 6 months up to the one chosen: each cell the month's
// 受教育人次, marked 正式 or 临时 by that unit-month's state.
async function apprGrid(by, cur) {
  const at = appr.months.indexOf(appr.month);
  const keys = appr.months.slice(at, at + 6).reverse();
  const data = await Promise.all(keys.map(k => (k === appr.month ? cur : apprMonth(k, by))));
  const grid = $('table-appr-months');
  const head = el('tr');
  head.appendChild(el('th', '单位'));
  for (const k of keys) head.appendChild(el('th', k));
  grid.tHead.replaceChildren(head);
  const body = grid.tBodies[0];
  body.replaceChildren();
  const rows = data[0].st.children.length ? data[0].st.children : [data[0].st.org];
  rows.forEach((u, i) => {
    const tr = el('tr');
    tr.appendChild(el('td', u.name));
    data.forEach((d, j) => {
      const s = d.st.children.length ? d.st.children[i] : d.st.org;
      const f = d.st.children.length ? d.figs.get(u.code) : d.tot.totals;
      const td = apprFigureCell(f?.participants, s.official, u.code + '|' + keys[j]);
      td.title = (STATE_TEXT[s.state] || s.state) + (s.set_by ? '(' + s.set_by + ')' : '');
      tr.appendChild(td);
    });
    body.appendChild(tr);
  });
}

async function apprMain() {
  let meta;
  // A unit the publisher refuses (?org= outside the home): app.js says so.
  try { meta = await api('/v1/meta' + (orgParam() ? '?org=' + orgParam() : '')); }
  catch (e) { return; }
  appr.unit = meta.org;
  if (!appr.unit) return;
  appr.months = apprMonthKeys(24);
  appr.month = appr.months[1]; // last month: the one usually being approved
  appr.office = apprLoadOffice();
  apprBuild();
  document.addEventListener('pufa:refresh', () => logged(apprRefresh()));
  await apprRefresh();
}

apprMain().catch(err => { if (!leaving) console.error('approvals:', err); });
