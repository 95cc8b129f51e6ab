// pollwatch observer app. Works offline: every report gets its client id
// here, waits in an IndexedDB outbox, and is sent (and resent) until the
// server acknowledges it. The server stores a resent report once.
'use strict';

const S = { lang: 'ru', t: {}, me: null, forms: null, stations: [], station: null, busy: false };
const $ = (sel, el = document) => el.querySelector(sel);
const h = (tag, attrs = {}, ...kids) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) if (kid != null) el.append(kid.nodeType ? kid : String(kid));
  return el;
};
const tr = (key) => (S.t[S.lang] && S.t[S.lang][key]) || (S.t.en && S.t.en[key]) || key;
const loc = (o) => (o && (o[S.lang] || o.en)) || '';
const store = {
  get: (k, d) => { try { const v = localStorage.getItem('pw:' + k); return v == null ? d : JSON.parse(v); } catch (_) { return d; } },
  set: (k, v) => localStorage.setItem('pw:' + k, JSON.stringify(v)),
};

// ---- outbox (IndexedDB) ----
let dbp = null;
function db() {
  if (!dbp) dbp = new Promise((ok, fail) => {
    const r = indexedDB.open('pollwatch', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('outbox', { keyPath: 'id' });
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
  return dbp;
}
async function tx(mode, fn) {
  const d = await db();
  return new Promise((ok, fail) => {
    const t = d.transaction('outbox', mode);
    const res = fn(t.objectStore('outbox'));
    t.oncomplete = () => ok(res && res.result);
    t.onerror = () => fail(t.error);
  });
}
const outboxAll = async () => {
  const d = await db();
  return new Promise((ok, fail) => {
    const r = d.transaction('outbox').objectStore('outbox').getAll();
    r.onsuccess = () => ok(r.result.sort((a, b) => a.seq - b.seq));
    r.onerror = () => fail(r.error);
  });
};
let seq = Date.now() * 1000;
async function enqueue(item) {
  item.seq = ++seq;
  await tx('readwrite', (s) => s.put(item));
  await showPending();
  flush();
}
const uuid = () => (crypto.randomUUID ? crypto.randomUUID()
  : ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, (c) => (c ^ crypto.getRandomValues(new Uint8Array(1))[0] & 15 >> c / 4).toString(16)));

async function sendReport(kind, payload, station) {
  const id = uuid();
  await enqueue({
    id, type: 'event',
    body: { client_id: id, station: station || S.station, kind, payload, observed_at: new Date().toISOString() },
  });
  return id;
}

async function addPhoto(file) {
  const bytes = await file.arrayBuffer();
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  const sha = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  await enqueue({ id: 'blob:' + sha, type: 'blob', sha, mime: file.type || 'application/octet-stream', bytes });
  return sha;
}

async function showPending() {
  const items = await outboxAll().catch(() => []);
  const el = $('#pending');
  const failed = store.get('failed', []);
  el.textContent = items.length ? tr('waiting').replace('{n}', items.length) : tr('all_sent');
  el.className = 'pending' + (items.length ? ' waiting' : '');
  el.dataset.count = items.length;
  if (failed.length) el.textContent += ' · ' + tr('refused').replace('{n}', failed.length);
}

// Send in order, one at a time: a photo goes before the report that names it.
async function flush() {
  if (S.busy) return;
  S.busy = true;
  try {
    for (const item of await outboxAll()) {
      let res;
      try {
        res = item.type === 'blob'
          ? await fetch('/api/v1/blobs', { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf(), 'X-Content-SHA256': item.sha, 'Content-Type': item.mime }, body: item.bytes })
          : await fetch('/api/v1/events', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf() }, body: JSON.stringify(item.body) });
      } catch (_) { break; } // offline: keep everything, try again later
      if (res.ok) {
        await tx('readwrite', (s) => s.delete(item.id));
      } else if (res.status >= 400 && res.status < 500 && ![401, 408, 429].includes(res.status)) {
        // Refused for good: keep a record the observer can see, never lose it silently.
        const why = await res.json().catch(() => ({}));
        const failed = store.get('failed', []);
        failed.push({ item: item.type === 'event' ? item.body : { sha: item.sha }, error: (why.error && why.error.message) || res.status });
        store.set('failed', failed);
        await tx('readwrite', (s) => s.delete(item.id));
      } else {
        break; // server trouble or logged out: keep and retry
      }
      await showPending();
    }
  } finally {
    S.busy = false;
    showPending();
    alarmState();
  }
}

// The alarm page says "sent" only once the server has it.
async function alarmState() {
  const el = document.getElementById('alarm-state');
  if (!el || !S.alertId) return;
  const waiting = (await outboxAll().catch(() => [])).some((i) => i.id === S.alertId);
  el.textContent = tr(waiting ? 'alert_queued' : 'alert_sent');
}
const csrf = () => (S.me && S.me.csrf_token) || store.get('me', {}).csrf_token || '';

// ---- data the app needs offline ----
async function getJson(url, key) {
  try {
    const r = await fetch(url, { credentials: 'same-origin' });
    if (r.status === 401) { location.href = '/enrol'; return null; }
    if (!r.ok) throw new Error(r.status);
    const v = await r.json();
    store.set(key, v);
    return v;
  } catch (_) {
    return store.get(key, null);
  }
}

// ---- views ----
const view = () => $('#view');
function show(...kids) { const v = view(); v.replaceChildren(...kids); v.focus(); window.scrollTo(0, 0); }
function toast(msg) { const p = h('p', { class: 'toast', role: 'status' }, msg); view().prepend(p); setTimeout(() => p.remove(), 4000); }

function home() {
  if (!S.station) return chooseStation();
  show(
    h('h1', {}, tr('station') + ' ' + S.station),
    h('nav', { class: 'menu' },
      h('a', { href: '#checkin' }, tr('check_in')),
      ...checklistsInDayOrder().map((f) => h('a', { href: '#checklist/' + f.id }, loc(f.title))),
      h('a', { href: '#headcount' }, tr('headcount')),
      h('a', { href: '#incident' }, tr('incident')),
      h('a', { href: '#protocol' }, tr('protocol')),
      h('a', { href: '#station' }, tr('change_station')),
    ),
  );
}

// Opening, voting, closing: the order of the day, then any a group added.
function checklistsInDayOrder() {
  const day = ['opening', 'voting', 'closing'];
  const rank = (f) => (day.includes(f.id) ? day.indexOf(f.id) : day.length);
  return Object.values(S.forms.checklists).sort((a, b) => rank(a) - rank(b));
}

function chooseStation() {
  const input = h('input', { type: 'text', inputmode: 'numeric', id: 'station-number', placeholder: '123' });
  const pick = (n) => { S.station = n; store.set('station', n); updateHeader(); location.hash = '#home'; home(); };
  show(
    h('h1', {}, tr('choose_station')),
    h('nav', { class: 'menu' }, S.stations.map((s) => h('button', { class: 'big', type: 'button', onclick: () => pick(s.number) }, s.number + ' · ' + s.name))),
    h('form', { class: 'q', onsubmit: (e) => { e.preventDefault(); if (input.value.trim()) pick(input.value.trim()); } },
      h('label', {}, tr('other_station'), input), h('button', { class: 'primary', type: 'submit' }, tr('ok'))),
  );
}

// Render questions of a form; answers() collects what is visible and filled.
function questions(list, prefix) {
  const wrap = h('div', { class: 'questions' });
  const get = {};
  const sets = {};
  for (const q of list) {
    const name = prefix + q.id;
    let input;
    let read;
    const label = loc(q.text);
    if (q.type === 'yes_no' || q.type === 'single_choice') {
      const choices = q.type === 'yes_no' ? [{ id: 'yes', text: { en: tr('yes'), ru: tr('yes'), kk: tr('yes') } }, { id: 'no', text: { en: tr('no'), ru: tr('no'), kk: tr('no') } }] : q.choices;
      input = h('div', {}, choices.map((c) => h('label', { class: 'opt' }, h('input', { type: 'radio', name, value: c.id, onchange: refresh }), loc(c.text))));
      read = () => { const c = $('input[name="' + name + '"]:checked', input); return c ? c.value : undefined; };
    } else if (q.type === 'multiple_choice') {
      input = h('div', {}, q.choices.map((c) => h('label', { class: 'opt' }, h('input', { type: 'checkbox', name, value: c.id }), loc(c.text))));
      read = () => [...input.querySelectorAll('input:checked')].map((c) => c.value);
    } else if (q.type === 'number') {
      input = h('input', { type: 'number', inputmode: 'numeric', name, min: q.min, max: q.max, step: 1 });
      read = () => (input.value === '' ? undefined : Number(input.value));
    } else if (q.type === 'time') {
      input = h('input', { type: 'time', name });
      read = () => input.value || undefined;
    } else if (q.type === 'photo') {
      const shas = [];
      const note = h('span', { class: 'hint' });
      input = h('div', {}, h('input', { type: 'file', accept: 'image/*', capture: 'environment', name, multiple: true, onchange: async (e) => {
        for (const f of e.target.files) shas.push(await addPhoto(f));
        note.textContent = tr('photos_added').replace('{n}', shas.length);
      } }), note);
      read = () => (shas.length ? shas.slice() : undefined);
    } else {
      input = h('textarea', { name, maxlength: q.max_length || 2000 });
      read = () => input.value.trim() || undefined;
    }
    const field = h('fieldset', { 'data-q': q.id }, h('legend', {}, label + (q.required ? ' *' : '')), input);
    wrap.append(field);
    get[q.id] = read;
    sets[q.id] = field;
  }
  function visible(q) {
    if (!q.when) return true;
    const v = get[q.when.question] && visible(list.find((x) => x.id === q.when.question)) ? get[q.when.question]() : undefined;
    return v !== undefined && q.when.values.includes(v);
  }
  function refresh() { for (const q of list) sets[q.id].classList.toggle('hidden', !visible(q)); }
  refresh();
  wrap.answers = () => {
    const out = {};
    const missing = [];
    for (const q of list) {
      if (!visible(q)) continue;
      const v = get[q.id]();
      if (v === undefined) { if (q.required) missing.push(q.id); continue; }
      if (q.type === 'number' && (v < q.min || v > q.max || !Number.isInteger(v))) missing.push(q.id);
      out[q.id] = v;
    }
    return { out, missing };
  };
  return wrap;
}

function formView(title, body, onSubmit) {
  const err = h('p', { class: 'err', role: 'alert' });
  show(h('h1', {}, title), h('form', { class: 'q', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const problem = await onSubmit();
    if (problem) { err.textContent = problem; return; }
    location.hash = '#home';
    home();
    toast(tr('saved'));
  } }, body, err, h('button', { class: 'primary', type: 'submit' }, tr('send'))));
}

function missingText(missing) { return tr('fill_in') + ': ' + missing.join(', '); }

function checklist(id) {
  const f = S.forms.checklists[id];
  if (!f) return home();
  const qs = questions(f.questions, 'q-');
  formView(loc(f.title), qs, async () => {
    const { out, missing } = qs.answers();
    if (missing.length) return missingText(missing);
    await sendReport('checklist', { checklist: f.id, form_version: f.version, answers: out });
  });
}

function checkIn() {
  formView(tr('check_in'), h('p', {}, tr('check_in_hint')), async () => { await sendReport('check_in', {}); });
}

function headcount() {
  const key = 'hc:' + S.station;
  const st = store.get(key, { count: 0, sentHour: null });
  const count = h('div', { class: 'count', id: 'hc-count', 'aria-live': 'polite' }, st.count);
  const announced = h('input', { type: 'number', inputmode: 'numeric', id: 'hc-announced', min: 0 });
  const gap = h('p', { class: 'gap', id: 'hc-gap' });
  const save = () => { store.set(key, st); count.textContent = st.count; showGap(); };
  function showGap() {
    if (announced.value === '') { gap.textContent = ''; return; }
    const d = Number(announced.value) - st.count;
    gap.textContent = tr('gap') + ': ' + (d > 0 ? '+' : '') + d;
    gap.className = 'gap ' + (d > 50 ? 'err' : 'okline');
  }
  announced.oninput = showGap;
  const snapshot = async () => {
    const a = announced.value === '' ? null : Number(announced.value);
    st.sentHour = new Date().getHours();
    store.set(key, st);
    await sendReport('headcount', { counted: st.count, announced: a });
    toast(tr('saved'));
  };
  show(
    h('h1', {}, tr('headcount')),
    h('div', { class: 'counter' },
      count,
      h('button', { class: 'tap', type: 'button', id: 'hc-tap', onclick: () => { st.count += 1; save(); } }, '+1'),
      h('div', { class: 'row' },
        h('button', { class: 'secondary', type: 'button', onclick: () => { st.count = Math.max(0, st.count - 1); save(); } }, '−1'),
        h('button', { class: 'secondary', type: 'button', id: 'hc-send', onclick: snapshot }, tr('send_now'))),
      h('label', {}, tr('announced'), announced), gap,
      h('p', { class: 'hint' }, tr('headcount_hint'))),
  );
}

// An hourly snapshot even if the observer forgets: on the hour, if the
// counter has not been sent this hour.
setInterval(() => {
  if (!S.station) return;
  const key = 'hc:' + S.station;
  const st = store.get(key, null);
  const hour = new Date().getHours();
  if (st && st.count > 0 && st.sentHour !== hour && new Date().getMinutes() < 5) {
    st.sentHour = hour;
    store.set(key, st);
    sendReport('headcount', { counted: st.count, announced: null });
  }
}, 60000);

function incident(preset) {
  const tax = S.forms.incidents;
  const cat = h('select', { id: 'inc-category' }, h('option', { value: '' }, '—'), tax.categories.map((c) => h('option', { value: c.code, selected: c.code === preset }, loc(c.name))));
  const sev = h('select', { id: 'inc-severity' }, ['critical', 'serious', 'minor'].map((s) => h('option', { value: s }, tr(s))));
  const details = h('div');
  let detailQs = null;
  const common = questions(tax.fields, 'f-');
  const pickCategory = () => {
    const c = tax.categories.find((x) => x.code === cat.value);
    if (c) sev.value = c.severity;
    detailQs = c ? questions(c.details, 'd-') : null;
    details.replaceChildren(...(detailQs ? [detailQs] : []));
  };
  cat.onchange = pickCategory;
  pickCategory();
  formView(tr('incident'), h('div', { class: 'q' }, h('label', {}, tr('category'), cat), h('label', {}, tr('severity'), sev), common, details), async () => {
    if (!cat.value) return missingText([tr('category')]);
    const c = common.answers();
    const d = detailQs ? detailQs.answers() : { out: {}, missing: [] };
    const missing = c.missing.concat(d.missing);
    if (missing.length) return missingText(missing);
    const payload = Object.assign({ category: cat.value, severity: sev.value, details: d.out }, c.out);
    if (S.alertId && (cat.value === 'OBS-REMOVED' || cat.value === 'OBS-DETAINED')) payload.alert = S.alertId;
    await sendReport('incident', payload);
  });
}

// Protocol control relations, evaluated as the observer types.
function evalSide(expr, fig) {
  let total = 0;
  for (const raw of expr.replace(/\s+/g, '').replace(/-/g, '+-').split('+').filter(Boolean)) {
    let sign = 1;
    let term = raw;
    if (term.startsWith('-')) { sign = -1; term = term.slice(1); }
    let coef = 1;
    if (term.includes('*')) { const [a, b] = term.split('*'); coef = Number(a); term = b; }
    if (/^[0-9.]+$/.test(term)) { total += sign * coef * Number(term); continue; }
    const v = term === 'CANDIDATES' ? fig.CANDIDATES : fig[term];
    if (v === undefined) return undefined;
    total += sign * coef * v;
  }
  return total;
}
function checkRelations(rels, fig) {
  return rels.map((r) => {
    const m = r.rule.match(/^(.*?)(<=|>=|~|=)(.*)$/);
    if (!m) return null;
    const l = evalSide(m[1], fig);
    const rt = evalSide(m[3], fig);
    if (l === undefined || rt === undefined) return null;
    const tol = r.comparison && r.comparison.about ? r.comparison.about.tolerance : 0;
    const ok = m[2] === '=' ? l === rt : m[2] === '<=' ? l <= rt : m[2] === '>=' ? l >= rt : Math.abs(l - rt) <= tol * Math.abs(rt);
    return { r, ok, l, rt };
  }).filter(Boolean);
}

function protocol() {
  const p = S.forms.protocol;
  const status = h('select', { id: 'proto-status' }, p.statuses.map((s) => h('option', { value: s.id }, loc(s.text))));
  const inputs = {};
  const num = (id, label) => { inputs[id] = h('input', { type: 'number', inputmode: 'numeric', min: 0, id: 'proto-' + id, oninput: live }); return h('label', {}, label, inputs[id]); };
  const checks = h('ul', { class: 'checks', id: 'proto-checks', 'aria-live': 'polite' });
  const figuresBox = h('div', { class: 'q' },
    p.lines.map((l) => num(l.id, l.id + ' · ' + loc(l.text))),
    p.candidates.map((c) => num(c.id, loc(c.name))),
    p.against_all ? num('A', loc(p.against_all)) : null,
    checks);
  const shas = [];
  const photoNote = h('span', { class: 'hint' });
  const photo = h('input', { type: 'file', accept: 'image/*', capture: 'environment', id: 'proto-photo', multiple: true, onchange: async (e) => {
    for (const f of e.target.files) shas.push(await addPhoto(f));
    photoNote.textContent = tr('photos_added').replace('{n}', shas.length);
  } });
  function figures() {
    const fig = {};
    for (const [id, el] of Object.entries(inputs)) if (el.value !== '') fig[id] = Number(el.value);
    const cands = p.candidates.map((c) => fig[c.id]);
    if (cands.every((v) => v !== undefined)) fig.CANDIDATES = cands.reduce((a, b) => a + b, 0) + (fig.A || 0);
    return fig;
  }
  function live() {
    const results = checkRelations(p.relations, figures());
    checks.replaceChildren(...results.map(({ r, ok, l, rt }) => h('li', { class: ok ? 'okline' : r.hard ? 'err' : 'warnline' }, (ok ? '✓ ' : r.hard ? '✗ ' : '⚠ ') + loc(r.text) + (ok ? '' : ' (' + l + ' / ' + rt + ')'))));
  }
  const hasFigures = () => ['posted', 'copy_given'].includes(status.value);
  status.onchange = () => figuresBox.classList.toggle('hidden', !hasFigures());
  status.onchange();
  formView(tr('protocol'), h('div', { class: 'q' }, h('label', {}, tr('protocol_status'), status), figuresBox, h('label', {}, tr('protocol_photo'), photo, photoNote)), async () => {
    let figs = null;
    if (hasFigures()) {
      const f = figures();
      figs = { candidates: {} };
      for (const l of p.lines) if (f[l.id] !== undefined) figs[l.id] = f[l.id];
      for (const c of p.candidates) if (f[c.id] !== undefined) figs.candidates[c.id] = f[c.id];
      if (f.A !== undefined) figs.A = f.A;
    }
    // A protocol that breaks the rules is still sent: it is evidence.
    await sendReport('protocol', { status: status.value, figures: figs, photos: shas.slice() });
  });
}

// One tap, from every page: the alert leaves at once; details can follow.
async function alarm() {
  S.alertId = await sendReport('alert', { alert: 'removed_or_detained' });
  store.set('alertId', S.alertId);
  show(
    h('h1', { id: 'alarm-state', 'aria-live': 'assertive' }, tr('alert_queued')),
    h('p', {}, tr('alert_next')),
    h('nav', { class: 'menu' },
      h('a', { href: '#incident/OBS-REMOVED' }, tr('i_was_removed')),
      h('a', { href: '#incident/OBS-DETAINED' }, tr('i_was_detained'))),
  );
  alarmState();
}

function updateHeader() {
  $('#station-label').textContent = (S.me && S.me.code_name ? S.me.code_name + ' · ' : '') + (S.station ? tr('station') + ' ' + S.station : 'pollwatch');
  $('#alarm').textContent = tr('alarm');
  $('#home-link').textContent = tr('home');
  document.documentElement.lang = S.lang;
}

function route() {
  const [name, arg] = location.hash.slice(1).split('/');
  if (!S.forms) return;
  if (name === 'checklist') checklist(arg);
  else if (name === 'checkin') checkIn();
  else if (name === 'headcount') headcount();
  else if (name === 'incident') incident(arg);
  else if (name === 'protocol') protocol();
  else if (name === 'station') chooseStation();
  else home();
}

async function start() {
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {});
  S.t = await getJson('/app/i18n.json', 'i18n') || {};
  S.me = await getJson('/api/v1/me', 'me');
  S.lang = store.get('lang', (S.me && S.me.language) || 'ru');
  $('#lang').value = S.lang;
  $('#lang').onchange = (e) => { S.lang = e.target.value; store.set('lang', S.lang); updateHeader(); showPending(); route(); };
  S.forms = await getJson('/api/v1/forms', 'forms');
  S.stations = (await getJson('/api/v1/me/stations', 'stations')) || [];
  S.station = store.get('station', S.stations.length === 1 ? S.stations[0].number : null);
  S.alertId = store.get('alertId', null);
  $('#alarm').onclick = alarm;
  updateHeader();
  window.addEventListener('hashchange', route);
  window.addEventListener('online', flush);
  setInterval(flush, 5000);
  if (!S.forms) { show(h('p', { class: 'err' }, tr('no_forms'))); return; }
  route();
  showPending();
  flush();
}
document.addEventListener('DOMContentLoaded', start);
