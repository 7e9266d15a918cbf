// The data-entry page: sign in with the intake token (kept in this
// window's sessionStorage, never in a URL), fill one report, submit it to
// POST /v1/reports (the same rules as every other door), follow its state.
'use strict';
const $ = s => document.querySelector(s);
const TOKEN_KEY = 'pufa-entry-token';
const STATE_TEXT = {
  spooled: '已接收（待报送）', in_flight: '报送中', committed: '已入库', duplicate: '已入库（重复）',
  stale: '已被新版本取代', rejected: '被拒绝', not_accepted: '未接收',
};
let meta = null;
let editing = null; // the report being corrected, or null for a new one

// A form control by name (never form.title: that is the form's own title).
function F(name) { return $('#report-form').elements.namedItem(name); }

function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

async function api(path, opts = {}) {
  opts.headers = Object.assign({ Authorization: 'Bearer ' + token() }, opts.headers || {});
  const r = await fetch(path, opts);
  if (r.status === 401) { signOut('令牌错误或已失效，请重新登录。'); throw new Error('401'); }
  return r;
}

// A version-4 UUID from crypto.getRandomValues (randomUUID needs a secure
// context, which a county intranet over http is not).
function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map(x => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function cityDay(offsetDays) { // the city's calendar (UTC+8)
  return new Date(Date.now() + 8 * 3600e3 + offsetDays * 86400e3).toISOString().slice(0, 10);
}

function signOut(msg) {
  sessionStorage.removeItem(TOKEN_KEY);
  $('#entry').hidden = true; $('#recent-card').hidden = true; $('#signout').hidden = true;
  $('#signin').hidden = false;
  $('#signin-error').textContent = msg || '';
}

async function signIn() {
  const r = await api('/v1/entry/meta');
  if (!r.ok) throw new Error('meta ' + r.status);
  meta = await r.json();
  $('#county').textContent = meta.county.name ? `${meta.county.name}（${meta.county.code}）` : '';
  buildForm();
  $('#signin').hidden = true; $('#entry').hidden = false; $('#recent-card').hidden = false;
  $('#signout').hidden = false;
  renderRecent();
  pollStates();
}

function options(sel, list, text, value, blank) {
  sel.innerHTML = '';
  const o = document.createElement('option');
  o.value = ''; o.textContent = blank; sel.appendChild(o);
  for (const x of list) {
    const e = document.createElement('option');
    e.value = value(x); e.textContent = text(x); sel.appendChild(e);
  }
}

function buildForm() {
  const f = $('#report-form');
  options(F('theme'), meta.themes, x => x.label, x => x.code, '请选择主题');
  options(F('venue'), meta.venues, x => x.label, x => x.code, '请选择场所');
  options(F('form'), meta.forms, x => x.label, x => x.code, '请选择形式');
  options(F('unit_code'), meta.units, x => `${x.name}（${x.code}）`, x => x.code, '请选择责任单位');
  $('#campaigns').innerHTML = meta.campaigns.map(c => `<option value="${c}">`).join('');
  F('occurred_on').max = cityDay(1); F('ended_on').max = cityDay(1);
  const box = $('#counters');
  box.innerHTML = '';
  for (const c of meta.counters) {
    const yuan = c.name === 'funds_fen';
    const d = document.createElement('div');
    d.className = 'field'; d.dataset.field = c.name;
    d.innerHTML = `<label>${yuan ? '普法经费（元）' : c.label}</label>` +
      `<input name="${c.name}" type="number" min="0" inputmode="${yuan ? 'decimal' : 'numeric'}" ` +
      `step="${yuan ? '0.01' : '1'}" max="${yuan ? '' : c.max}">` +
      (yuan ? '<p class="hint">以元为单位，可到分。</p>' : '') + '<p class="err"></p>';
    box.appendChild(d);
  }
  resetForm();
}

function resetForm() {
  const f = $('#report-form');
  HTMLFormElement.prototype.reset.call(f);
  editing = null;
  F('report_id').value = uuid(); F('revision').value = '1';
  F('occurred_on').value = cityDay(0);
  $('#form-title').textContent = '填报一项活动';
  clearErrors();
}

function clearErrors() {
  document.querySelectorAll('.field').forEach(d => { d.classList.remove('bad'); d.querySelector('.err').textContent = ''; });
  $('#form-error').textContent = '';
}

// The server's rules (common/validate.c) in the office's words; the
// server's own text stays beside it, and anything unknown is shown as is.
const SAID = [
  [/^is required/, () => '必填'],
  [/^must be >= 0 \(got (.*)\)/, m => `不能小于 0（填的是 ${m[1]}）`],
  [/^must be <= (\d+) \(got (.*)\)/, m => `不能大于 ${m[1]}（填的是 ${m[2]}）`],
  [/^must not be before occurred_on \(got (.*) < (.*)\)/, m => `不能早于活动日期（${m[1]} 早于 ${m[2]}）`],
  [/^must not be more than one day in the future \(got (.*)\)/, m => `不能晚于明天（填的是 ${m[1]}）`],
  [/^must be on or after (\S+) \(got (.*)\)/, m => `不能早于 ${m[1]}（填的是 ${m[2]}）`],
  [/^must be a real date/, () => '不是有效的日期'],
  [/^must be at most (\d+) characters \(got (\d+)\)/, m => `最多 ${m[1]} 字（现有 ${m[2]} 字）`],
  [/^must not contain control characters/, () => '不能含控制字符'],
  [/^must be one of the/, () => '请从列表中选择'],
  [/^is not a known county/, () => '不是已知的县区代码'],
  [/^this collector takes reports for county (\d+) only/, m => `本系统只接收县区 ${m[1]} 的报告`],
];
function inChinese(msg) {
  for (const [re, say] of SAID) {
    const m = re.exec(msg);
    if (m) return `${say(m)}（${msg}）`;
  }
  return msg;
}

function fieldError(name, msg) {
  const d = document.querySelector(`.field[data-field="${name}"]`);
  if (!d) { $('#form-error').textContent += `${name}: ${msg} `; return; }
  d.classList.add('bad');
  d.querySelector('.err').textContent = msg;
}

// The browser's own checks, said in Chinese.
function clientErrors(f) {
  let ok = true;
  for (const el of f.elements) {
    if (!el.name || el.type === 'hidden' || el.validity.valid) continue;
    const v = el.validity;
    const msg = v.valueMissing ? '必填' : v.rangeUnderflow ? `不能小于 ${el.min}` :
      v.rangeOverflow ? `不能大于 ${el.max}` : v.stepMismatch ? (el.step === '1' ? '只能填整数' : '最多到分') :
        v.badInput ? '请填数字' : el.validationMessage;
    fieldError(el.name, msg);
    ok = false;
  }
  return ok;
}

function reportFromForm(f) {
  const r = {
    report_id: F('report_id').value, revision: Number(F('revision').value), county_code: meta.county.code,
    occurred_on: F('occurred_on').value, theme: F('theme').value, venue: F('venue').value, form: F('form').value,
    unit_code: F('unit_code').value, title: F('title').value.trim(),
  };
  const unit = meta.units.find(u => u.code === r.unit_code);
  if (unit) r.unit_name = unit.name;
  for (const k of ['ended_on', 'township', 'campaign']) if (F(k).value.trim()) r[k] = F(k).value.trim();
  for (const c of meta.counters) {
    const v = F(c.name).value;
    if (v === '') continue;
    r[c.name] = c.name === 'funds_fen' ? Math.round(Number(v) * 100) : Number(v);
  }
  return r;
}

function fillForm(r) {
  const f = $('#report-form');
  HTMLFormElement.prototype.reset.call(f); clearErrors();
  for (const k of ['report_id', 'occurred_on', 'ended_on', 'theme', 'venue', 'form', 'unit_code',
    'township', 'campaign', 'title']) F(k).value = r[k] || '';
  for (const c of meta.counters) {
    const v = r[c.name];
    F(c.name).value = v === undefined ? '' : c.name === 'funds_fen' ? (v / 100).toFixed(2) : v;
  }
}

async function send(report) {
  const r = await api('/v1/reports', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(report),
  });
  let body = {};
  try { body = await r.json(); } catch (e) { /* not JSON */ }
  return { status: r.status, body };
}

function showResult(html, bad) {
  const el = $('#result');
  el.hidden = false; el.className = 'result' + (bad ? ' bad' : ''); el.innerHTML = html;
}

async function submit(ev) {
  ev.preventDefault();
  const f = $('#report-form');
  clearErrors(); $('#result').hidden = true;
  if (!clientErrors(f)) { showResult('请按红字提示改正后再提交。', true); return; }
  const report = reportFromForm(f);
  $('#submit').disabled = true;
  try {
    const { status, body } = await send(report);
    if (status === 202) {
      remember(report, 'spooled');
      showResult(`已接收并写入磁盘：报告编号 <code id="result-id">${report.report_id}</code>（版本 ${report.revision}）。` +
        '报送到市里后，下表中的状态变为“已入库”。');
      resetForm();
    } else if (status === 400 && body.results) {
      for (const e of (body.results[0] || {}).errors || []) fieldError(e.field, inChinese(e.message));
      showResult('未接收：请按红字提示改正后再提交。', true);
    } else {
      showResult(`未接收（${status}）：${body.error || '请稍后再试'}`, true);
    }
  } catch (e) {
    if (e.message !== '401') showResult('无法连接报送系统，请稍后再试。', true);
  } finally {
    $('#submit').disabled = false;
  }
}

// ---- the office's recent reports (this browser's localStorage) ----

function recentKey() { return 'pufa-entry-recent-' + meta.county.code; }
function loadRecent() { try { return JSON.parse(localStorage.getItem(recentKey())) || []; } catch (e) { return []; } }
function saveRecent(list) { localStorage.setItem(recentKey(), JSON.stringify(list.slice(0, 50))); }

function remember(report, state) {
  const list = loadRecent().filter(x => x.report.report_id !== report.report_id);
  list.unshift({ report, state, reason: '' });
  saveRecent(list);
  renderRecent();
}

function renderRecent() {
  const tb = $('#recent tbody');
  tb.innerHTML = '';
  for (const x of loadRecent()) {
    const r = x.report, tr = document.createElement('tr');
    tr.dataset.id = r.report_id;
    const state = r.retracted && x.state === 'committed' ? '已撤回' : (STATE_TEXT[x.state] || x.state);
    tr.innerHTML = `<td>${r.occurred_on}</td><td></td><td>${r.revision}</td>` +
      `<td class="state state-${x.state}"></td><td></td>`;
    tr.children[1].textContent = r.title;
    tr.children[3].textContent = state + (x.reason ? '：' + x.reason : '');
    if (!r.retracted) {
      const fix = document.createElement('button');
      fix.className = 'small secondary'; fix.textContent = '更正';
      fix.onclick = () => correct(r);
      const del = document.createElement('button');
      del.className = 'small'; del.textContent = '撤回';
      del.onclick = () => retract(r);
      tr.children[4].append(fix, del);
    }
    tb.appendChild(tr);
  }
}

function correct(r) {
  fillForm(r);
  editing = r;
  F('revision').value = String(r.revision + 1);
  $('#form-title').textContent = `更正：${r.title}（将报送版本 ${r.revision + 1}）`;
  $('#entry').scrollIntoView();
}

async function retract(r) {
  if (!confirm(`确定撤回“${r.title}”吗？撤回后它的数字不再计入统计。`)) return;
  const report = Object.assign({}, r, { revision: r.revision + 1, retracted: true });
  const { status, body } = await send(report);
  if (status === 202) {
    remember(report, 'spooled');
    showResult(`已撤回：报告编号 <code>${report.report_id}</code>（版本 ${report.revision}）。`);
  } else {
    showResult(`撤回未接收（${status}）：${body.error || ''}`, true);
  }
}

async function pollStates() {
  if (!meta || $('#entry').hidden) return;
  const list = loadRecent();
  let changed = false;
  for (const x of list) {
    if (['committed', 'duplicate', 'stale', 'rejected'].includes(x.state)) continue;
    try {
      const r = await api('/v1/reports/' + x.report.report_id);
      if (!r.ok) continue;
      const s = await r.json();
      if (s.revision === x.report.revision && s.state !== x.state) {
        x.state = s.state; x.reason = s.reason || ''; changed = true;
      }
    } catch (e) { return; }
  }
  if (changed) { saveRecent(list); renderRecent(); }
  setTimeout(pollStates, 1500);
}

async function downloadTemplate(ev) {
  ev.preventDefault();
  const r = await api('/v1/template.xlsx');
  const a = document.createElement('a');
  a.href = URL.createObjectURL(await r.blob());
  a.download = `普法活动报表模板-${meta.county.code}.xlsx`;
  a.click();
}

$('#signin-form').addEventListener('submit', async ev => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim());
  $('#token').value = '';
  try { await signIn(); } catch (e) { if (e.message !== '401') { console.error(e); $('#signin-error').textContent = '无法连接报送系统。'; } }
});
$('#signout').addEventListener('click', () => signOut(''));
$('#report-form').addEventListener('submit', submit);
$('#clear-form').addEventListener('click', () => { resetForm(); $('#result').hidden = true; });
$('#template-link').addEventListener('click', downloadTemplate);
if (token()) signIn().catch(() => {});
