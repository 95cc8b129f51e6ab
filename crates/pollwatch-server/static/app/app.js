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

// ---- outbox and refused reports (IndexedDB) ----
// `outbox`: what waits to be sent. `refused`: what the server refused for
// good; it stays on the phone, with the server's reasons, until the observer
// corrects it and the corrected report is acknowledged.
let dbp = null;
function db() {
  if (!dbp) dbp = new Promise((ok, fail) => {
    const r = indexedDB.open('pollwatch', 2);
    r.onupgradeneeded = () => {
      const names = r.result.objectStoreNames;
      if (!names.contains('outbox')) r.result.createObjectStore('outbox', { keyPath: 'id' });
      if (!names.contains('refused')) r.result.createObjectStore('refused', { keyPath: 'id' });
    };
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
  return dbp;
}
async function tx(mode, fn, name = 'outbox') {
  const d = await db();
  return new Promise((ok, fail) => {
    const t = d.transaction(name, mode);
    const res = fn(t.objectStore(name));
    t.oncomplete = () => ok(res && res.result);
    t.onerror = () => fail(t.error);
  });
}
const allOf = async (name) => {
  const d = await db();
  return new Promise((ok, fail) => {
    const r = d.transaction(name).objectStore(name).getAll();
    r.onsuccess = () => ok(r.result.sort((a, b) => a.seq - b.seq));
    r.onerror = () => fail(r.error);
  });
};
const outboxAll = () => allOf('outbox');
const refusedAll = () => allOf('refused');
let seq = Date.now() * 1000;
async function enqueue(item) {
  if (S.wiped) return;
  item.seq = ++seq;
  await tx('readwrite', (s) => s.put(item));
  await showPending();
  flush();
}
const uuid = () => (crypto.randomUUID ? crypto.randomUUID()
  : ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, (c) => (c ^ crypto.getRandomValues(new Uint8Array(1))[0] & 15 >> c / 4).toString(16)));

// A correction of a refused report is a new report with a new client id,
// not a `supersedes`: the refused one was never stored, so there is nothing
// to supersede. `corrects` names the refused entry to drop once this one is
// acknowledged.
async function sendReport(kind, payload, station, corrects) {
  const id = uuid();
  await enqueue({
    id, type: 'event', corrects: corrects || null,
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
  if (S.wiped) return;
  const items = await outboxAll().catch(() => []);
  const refused = await refusedAll().catch(() => []);
  const el = $('#pending');
  el.replaceChildren(items.length ? tr('waiting').replace('{n}', items.length) : tr('all_sent'));
  el.className = 'pending' + (items.length ? ' waiting' : '');
  el.dataset.count = items.length;
  el.dataset.refused = refused.length;
  if (refused.length) el.append(' · ', h('a', { href: '#refused', id: 'refused-link', class: 'refused' }, tr('refused').replace('{n}', refused.length)));
}

// Send in order, one at a time: a photo goes before the report that names it.
async function flush() {
  if (S.busy || S.wiped) return;
  S.busy = true;
  let sent = 0;
  try {
    for (const item of await outboxAll()) {
      let res;
      try {
        res = item.type === 'blob'
          ? await fetch('/api/v1/blobs', { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf(), 'X-Content-SHA256': item.sha, 'Content-Type': item.mime }, body: item.bytes })
          : await fetch('/api/v1/events', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf() }, body: JSON.stringify(item.body) });
      } catch (_) { break; } // offline: keep everything, try again later
      if (res.ok) {
        sent += 1;
        await tx('readwrite', (s) => s.delete(item.id));
        if (item.corrects) await tx('readwrite', (s) => s.delete(item.corrects), 'refused');
      } else if (res.status === 401) {
        await unauthorized(res);
        break;
      } else if (item.body && item.body.kind === 'message_read' && res.status >= 400 && res.status < 500 && ![408, 429].includes(res.status)) {
        // A read receipt the server will not take (the message is gone
        // from its list): nothing for the observer to correct.
        await tx('readwrite', (s) => s.delete(item.id));
      } else if (res.status >= 400 && res.status < 500 && ![408, 429].includes(res.status)) {
        // Refused for good. It moves to the refused list, with the server's
        // reasons, for the observer to see, correct and resend: never lost
        // silently. A correction that is refused again replaces the entry.
        const why = ((await res.json().catch(() => ({}))).error) || {};
        await refuse(item, { status: res.status, message: why.message || String(res.status), field: why.field || null, problems: why.problems || [] });
        // The refusal may come from forms changed on the server: load them
        // again, so the correction is checked against the rules in force.
        refreshForms();
      } else {
        break; // server trouble: keep and retry
      }
      await showPending();
    }
  } finally {
    S.busy = false;
    showPending();
    alarmState();
  }
  // The connection is back and the outbox empty: a good moment to ask
  // for messages sent while the phone was offline.
  if (sent && !S.wiped && !(await outboxAll().catch(() => [null])).length) syncMessages();
}

async function refuse(item, why) {
  const entry = { id: item.id, seq: item.seq, at: new Date().toISOString(), why };
  // A photo the server refused keeps its bytes on the phone.
  if (item.type === 'event') entry.body = item.body; else entry.blob = { sha: item.sha, mime: item.mime, bytes: item.bytes };
  const d = await db();
  await new Promise((ok, fail) => {
    const t = d.transaction(['outbox', 'refused'], 'readwrite');
    if (item.corrects) t.objectStore('refused').delete(item.corrects);
    t.objectStore('refused').put(entry);
    t.objectStore('outbox').delete(item.id);
    t.oncomplete = ok;
    t.onerror = () => fail(t.error);
  });
}

async function refreshForms() {
  const f = await getJson('/api/v1/forms', 'forms');
  if (f) S.forms = f;
}

// The alarm page says "sent" only once the server has it.
async function alarmState() {
  const el = document.getElementById('alarm-state');
  if (!el || !S.alertId) return;
  const waiting = (await outboxAll().catch(() => [])).some((i) => i.id === S.alertId);
  el.textContent = tr(waiting ? 'alert_queued' : 'alert_sent');
  const sms = document.getElementById('alarm-sms');
  if (sms) sms.hidden = !waiting;
}

// A link that opens the phone's SMS app with `text` typed, to the group's
// gateway phone (RFC 5724).
const smsHref = (text) => 'sms:' + S.me.sms_to + '?body=' + encodeURIComponent(text);

// An alarm the outbox still holds may wait hours for mobile data. The
// group's gateway phone takes it by SMS instead: the phone's own SMS app
// opens with the coded message typed (the card's format: A, the station,
// R removed or D detained), and the observer only presses send.
function smsAlarm() {
  if (!(S.me && S.me.sms_to)) return '';
  const at = S.station ? S.station + ' ' : '';
  const link = (letter, label) => h('a', { class: 'sms', href: smsHref('A ' + at + letter) }, label);
  return h('section', { id: 'alarm-sms', hidden: true },
    h('p', {}, tr('sms_no_data')),
    h('nav', { class: 'menu' }, link('R', tr('sms_removed')), link('D', tr('sms_detained'))));
}
const csrf = () => (S.me && S.me.csrf_token) || store.get('me', {}).csrf_token || '';

// ---- a session that ends ----
// The server answers 401 with `reason`: "revoked", "expired" or "missing".
//
// Revoked: coordinators revoke a phone when it was seized or lost, so the
// app presumes it is in hostile hands. It wipes everything it keeps: the
// outbox with unsent reports and photos, the refused reports, the cached
// forms, stations and identity (localStorage, IndexedDB, the service
// worker's caches, the service worker itself), and shows a neutral screen
// that names no group, observer or station. Unsent reports are lost with
// it, on purpose: the server would refuse them from a revoked session, and
// on a seized phone they tell the captors what the observer saw and where;
// an observer who still has the phone re-enrols and reports again.
//
// Expired or missing: an ordinary end of a session. The outbox stays, and
// is sent once the observer has enrolled again.
async function unauthorized(res) {
  const why = ((await res.json().catch(() => ({}))).error) || {};
  if (why.reason === 'revoked') { await wipe(); notEnrolled(); return; }
  S.expired = true;
  const v = view();
  if (v && !$('#session-expired')) v.prepend(h('p', { class: 'err', id: 'session-expired', role: 'alert' }, tr('session_expired') + ' ', h('a', { href: '/enrol' }, tr('enrol'))));
}

async function wipe() {
  S.wiped = true;
  clearInterval(S.timer);
  clearInterval(S.messageTimer);
  S.me = null; S.forms = null; S.stations = []; S.station = null; S.alertId = null;
  try { localStorage.clear(); sessionStorage.clear(); } catch (_) { /* storage unavailable: nothing kept */ }
  try { if (dbp) (await dbp).close(); } catch (_) { /* never opened */ }
  dbp = null;
  await new Promise((ok) => { const r = indexedDB.deleteDatabase('pollwatch'); r.onsuccess = ok; r.onerror = ok; r.onblocked = ok; });
  if (self.caches) for (const k of await caches.keys()) await caches.delete(k);
  if (navigator.serviceWorker) for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
}

// Texts of their own: after a wipe the translations may be gone too.
const NOT_ENROLLED = { en: ['This phone is not enrolled.', 'Enrol'], ru: ['Этот телефон не подключён.', 'Подключить'], kk: ['Бұл телефон қосылмаған.', 'Қосылу'] };
function notEnrolled() {
  const [text, link] = NOT_ENROLLED[S.lang] || NOT_ENROLLED.en;
  document.title = 'pollwatch';
  document.body.replaceChildren(h('main', { id: 'not-enrolled' }, h('h1', {}, text), h('p', {}, h('a', { href: '/enrol', class: 'primary' }, link))));
}

// ---- data the app needs offline ----
async function getJson(url, key) {
  try {
    const r = await fetch(url, { credentials: 'same-origin' });
    if (r.status === 401) {
      const why = ((await r.clone().json().catch(() => ({}))).error) || {};
      if (why.reason === 'revoked') { await unauthorized(r); return null; }
      location.href = '/enrol';
      return null;
    }
    if (!r.ok) throw new Error(r.status);
    const v = await r.json();
    store.set(key, v);
    return v;
  } catch (_) {
    return store.get(key, null);
  }
}

// ---- messages from the coordinators ----
// Fetched at every sync (start, an emptied outbox, back online, every
// minute) and kept in localStorage, so they show offline and go with the
// rest in a revoked phone's wipe. "Read" is marked on the phone at once
// (`msgread`, until the server confirms it) and sent as a `message_read`
// event through the outbox, so it leaves when there is a connection; the
// server stores a resent one once, by its client id.
const MESSAGES_EVERY_MS = 60000;
const messagesKept = () => store.get('messages', []);
const isRead = (m) => m.read || store.get('msgread', []).includes(m.id);
const when = (iso) => new Date(iso).toLocaleString(S.lang, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

async function syncMessages() {
  if (S.wiped || S.syncingMessages) return;
  S.syncingMessages = true;
  try {
    const r = await fetch('/api/v1/me/messages', { credentials: 'same-origin' });
    if (r.status === 401) { await unauthorized(r); return; }
    if (!r.ok) return;
    const list = await r.json();
    if (S.wiped || !Array.isArray(list)) return;
    store.set('messages', list);
    // A local mark stays until the server has the receipt.
    store.set('msgread', store.get('msgread', []).filter((id) => list.some((m) => m.id === id && !m.read)));
  } catch (_) {
    return; // offline: the kept list stands
  } finally {
    S.syncingMessages = false;
  }
  showMessages();
}

async function markRead(message) {
  if (S.wiped) return;
  const read = store.get('msgread', []);
  if (!read.includes(message)) store.set('msgread', read.concat([message]).slice(-200));
  showMessages(true);
  const id = uuid();
  await enqueue({ id, type: 'event', body: { client_id: id, kind: 'message_read', payload: { message }, observed_at: new Date().toISOString() } });
}

// The newest unread message, on every page, until it is marked read.
function showBanner() {
  const el = $('#msg-banner');
  if (!el) return;
  const unread = messagesKept().filter((m) => !isRead(m));
  el.classList.toggle('hidden', !unread.length);
  if (!unread.length) { el.replaceChildren(); delete el.dataset.message; return; }
  const m = unread[0];
  el.dataset.message = m.id;
  el.replaceChildren(
    h('p', { class: 'msg-from' }, tr('message_from') + ' · ' + when(m.sent_at)),
    h('p', { class: 'msg-text', id: 'msg-text' }, m.text),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'secondary', id: 'msg-read', onclick: () => markRead(m.id) }, tr('mark_read')),
      h('a', { href: '#messages', class: 'msg-more' }, unread.length > 1 ? tr('more_unread').replace('{n}', unread.length - 1) : tr('all_messages'))),
  );
}

let shownMessages = '';
function showMessages(force) {
  if (S.wiped) return;
  showBanner();
  const link = $('#messages-link');
  if (link) link.textContent = messagesLabel();
  const now = JSON.stringify(messagesKept().map((m) => [m.id, isRead(m)]));
  if (location.hash === '#messages' && (force || now !== shownMessages)) messagesList();
  shownMessages = now;
}

function messagesLabel() {
  const n = messagesKept().filter((m) => !isRead(m)).length;
  return tr('messages') + (n ? ' (' + n + ')' : '');
}

function messagesList() {
  const list = messagesKept();
  show(
    h('h1', {}, tr('messages')),
    list.length ? h('ul', { class: 'msg-list', id: 'msg-list' }, list.map((m) => h('li', { 'data-message': m.id, class: isRead(m) ? 'read' : 'unread' },
      h('p', { class: 'hint' }, when(m.sent_at) + ' · ' + tr(isRead(m) ? 'msg_read' : 'msg_unread')),
      h('p', { class: 'msg-text' }, m.text),
      isRead(m) ? null : h('button', { type: 'button', class: 'secondary', 'data-read': m.id, onclick: () => markRead(m.id) }, tr('mark_read')))))
      : h('p', { class: 'hint' }, tr('messages_none')),
  );
}

// ---- views ----
const view = () => $('#view');
function show(...kids) { const v = view(); v.replaceChildren(...kids); v.focus(); window.scrollTo(0, 0); }
function toast(msg) { const p = h('p', { class: 'toast', role: 'status' }, msg); view().prepend(p); setTimeout(() => p.remove(), 4000); }

// A count or a protocol that has waited this long for mobile data is
// offered by SMS too (a shorter wait is the ordinary retry).
S.smsAfterMs = 60 * 1000;

// A report in the card's format, as the gateway reads it: H, the station,
// counted and announced (- when not yet); P, the station, the status's
// number in the template and every figure in the form's order (lines,
// candidates, against all) or none. Null for what SMS cannot carry, such
// as a protocol with some figures missing.
function smsText(body) {
  const p = body.payload || {};
  const at = body.station ? ' ' + body.station : '';
  if (body.kind === 'headcount' && p.counted != null) return 'H' + at + ' ' + p.counted + ' ' + (p.announced == null ? '-' : p.announced);
  if (body.kind !== 'protocol' || !S.forms.protocol) return null;
  const t = S.forms.protocol;
  const n = t.statuses.findIndex((x) => x.id === p.status) + 1;
  if (!n) return null;
  const words = ['P' + at, String(n)];
  const f = p.figures;
  if (f) {
    const all = [...t.lines.map((l) => f[l.id]), ...t.candidates.map((c) => (f.candidates || {})[c.id])];
    if (t.against_all) all.push(f.A);
    if (all.some((x) => x == null)) return null;
    words.push(...all.map(String));
  }
  return words.join(' ');
}

// Counts and protocols that wait in the outbox, offered by SMS to the
// group's gateway phone: the newest of each kind per station.
async function smsOutbox() {
  if (!(S.me && S.me.sms_to)) return;
  const items = (await outboxAll().catch(() => [])).filter((i) => i.type === 'event' && ['headcount', 'protocol'].includes(i.body.kind)
    && Date.now() - Date.parse(i.body.observed_at) >= S.smsAfterMs);
  const newest = new Map();
  for (const i of items) newest.set(i.body.kind + '/' + i.body.station, i);
  const links = [...newest.values()].map((i) => [i, smsText(i.body)]).filter(([, text]) => text)
    .map(([i, text]) => h('a', { class: 'sms', href: smsHref(text), 'data-kind': i.body.kind },
      tr('sms_' + i.body.kind).replace('{station}', i.body.station || '')));
  const old = document.getElementById('outbox-sms');
  if (old) old.remove();
  // Only on the home page it was asked for (the observer may have moved on).
  if (!links.length || !['', 'home'].includes(location.hash.slice(1).split('/')[0])) return;
  // Under the station's name, before the menu: it is what matters now.
  const section = h('section', { id: 'outbox-sms' }, h('p', {}, tr('sms_waiting')), h('nav', { class: 'menu' }, links));
  const title = view().querySelector('h1');
  if (title) title.after(section); else view().prepend(section);
}

function home() {
  if (!S.station) return chooseStation();
  smsOutbox();
  show(
    h('h1', {}, tr('station') + ' ' + S.station),
    h('nav', { class: 'menu' },
      h('a', { href: '#checkin' }, tr('check_in')),
      ...checklistsInDayOrder().map((f) => h('a', { href: '#checklist/' + f.id }, loc(f.title))),
      h('a', { href: '#headcount' }, tr('headcount')),
      h('a', { href: '#incident' }, tr('incident')),
      h('a', { href: '#protocol' }, tr('protocol')),
      h('a', { href: '#messages', id: 'messages-link' }, messagesLabel()),
      h('a', { href: '#station' }, tr('change_station')),
      h('a', { href: '#myhome' }, tr('my_home')),
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
    h('p', {}, h('a', { href: '#myhome' }, tr('my_home'))),
  );
}

// The volunteer's home for planning: a station number, never an address.
// Set before the vote and online only (it waits in no outbox: a plan needs
// it on the server, and nothing is lost by asking again).
async function myHome() {
  const input = h('input', { type: 'text', inputmode: 'numeric', id: 'home-station', placeholder: '123', autocomplete: 'off' });
  const status = h('p', { id: 'home-status', role: 'status' });
  const err = h('p', { class: 'err', id: 'home-error', role: 'alert' });
  const save = async (station) => {
    err.textContent = '';
    try {
      const r = await fetch('/api/v1/me/home', { method: 'PUT', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf() }, body: JSON.stringify({ station }) });
      if (r.status === 401) { await unauthorized(r); return; }
      const v = await r.json().catch(() => ({}));
      if (!r.ok) { err.textContent = (v.error && v.error.message) || String(r.status); return; }
      shown(v);
      toast(station ? tr('home_saved') : tr('home_cleared'));
    } catch (_) {
      err.textContent = tr('home_offline');
    }
  };
  const shown = (v) => {
    input.value = (v && v.station) || '';
    status.textContent = v && v.station ? tr('home_is') + ' ' + v.station : tr('home_none');
  };
  show(
    h('h1', {}, tr('my_home')),
    h('p', {}, tr('home_about')),
    status,
    h('form', { class: 'q', onsubmit: (e) => { e.preventDefault(); const n = input.value.trim(); save(n || null); } },
      h('label', {}, tr('home_station'), input),
      h('button', { class: 'primary', type: 'submit', id: 'home-save' }, tr('ok'))),
    h('button', { type: 'button', class: 'secondary', id: 'home-clear', onclick: () => save(null) }, tr('home_clear')),
    err,
  );
  try {
    const r = await fetch('/api/v1/me/home', { credentials: 'same-origin' });
    if (r.ok) shown(await r.json());
    else if (r.status === 401) await unauthorized(r);
  } catch (_) {
    status.textContent = tr('home_offline');
  }
}

// ---- the checker ----
// The server's rules (pollwatch_domain::report::check), applied here to the
// same served forms, so that the phone refuses what the server would refuse
// before the observer leaves the page. Problems have the server's shape:
// { field, question, rule, ...the rule's parameters }. The lists below are
// what this checker knows; a Rust test (tests/browser.rs) checks that they
// cover every rule, question type, constraint and comparison the server
// has, and the browser test that both refuse the same bad reports.
const CHECKER = {"rules": ["required", "unknown_question", "not_asked", "type", "range", "choice", "too_long", "at_most", "at_least", "version", "unknown"], "types": ["yes_no", "number", "single_choice", "multiple_choice", "time", "text", "photo"], "constraints": ["at_most", "at_least"], "comparisons": ["equal", "at_most", "at_least", "about"]};
const RESERVED_INCIDENT_KEYS = ['category', 'severity', 'details', 'alert'];
const isClientId = (s) => typeof s === 'string' && /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(s);
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isSha = (s) => typeof s === 'string' && /^[0-9a-f]{64}$/.test(s);
const parseTime = (s) => { const m = typeof s === 'string' && /^([0-9]{2}):([0-9]{2})$/.exec(s); return m && +m[1] < 24 && +m[2] < 60 ? +m[1] * 60 + +m[2] : null; };

function parseAnswer(q, v) {
  const type = { rule: 'type', expected: q.type };
  switch (q.type) {
    case 'yes_no': return v === 'yes' || v === 'no' ? { a: { choice: v } } : { p: type };
    case 'number':
      if (typeof v !== 'number' || !Number.isInteger(v)) return { p: type };
      return v < q.min || v > q.max ? { p: { rule: 'range', min: q.min, max: q.max } } : { a: { n: v } };
    case 'single_choice':
      if (typeof v !== 'string') return { p: type };
      return q.choices.some((c) => c.id === v) ? { a: { choice: v } } : { p: { rule: 'choice' } };
    case 'multiple_choice': {
      if (!Array.isArray(v)) return { p: type };
      const ticked = [];
      for (const i of v) {
        if (typeof i !== 'string') return { p: type };
        if (!q.choices.some((c) => c.id === i) || ticked.includes(i)) return { p: { rule: 'choice' } };
        ticked.push(i);
      }
      return { a: { choices: ticked } };
    }
    case 'time': { const m = parseTime(v); return m === null ? { p: type } : { a: { n: m } }; }
    case 'text':
      if (typeof v !== 'string') return { p: type };
      return [...v].length > q.max_length ? { p: { rule: 'too_long', max_length: q.max_length } } : { a: {} };
    case 'photo': return isSha(v) || (Array.isArray(v) && v.every(isSha)) ? { a: {} } : { p: type };
    default: return { p: type };
  }
}

const isBlank = (q, v) => (q.type === 'text' && typeof v === 'string' && v.trim() === '') || (q.type === 'photo' && Array.isArray(v) && v.length === 0);

// pollwatch_domain::forms::question::validate_answers.
function checkAnswers(qs, answers, scope) {
  const out = [];
  const add = (id, p) => out.push(Object.assign({ field: scope + id, question: id }, p));
  for (const k of Object.keys(answers)) if (!qs.some((q) => q.id === k)) add(k, { rule: 'unknown_question' });
  const valid = {};
  const broken = new Set();
  for (const q of qs) {
    let asked = true;
    if (q.when) {
      if (broken.has(q.when.question)) asked = null;
      else { const a = valid[q.when.question]; asked = !!a && a.choice !== undefined && q.when.values.includes(a.choice); }
    }
    let v = answers[q.id];
    if (v === null || (v !== undefined && isBlank(q, v))) v = undefined;
    if (asked === false && v !== undefined) { add(q.id, { rule: 'not_asked', when: q.when.question, values: q.when.values }); broken.add(q.id); }
    else if (asked === true && v === undefined && q.required) { add(q.id, { rule: 'required' }); broken.add(q.id); }
    else if (v !== undefined) {
      const r = parseAnswer(q, v);
      if (r.p) { add(q.id, r.p); broken.add(q.id); } else if (asked === true) valid[q.id] = r.a;
    }
  }
  for (const q of qs) {
    const mine = valid[q.id];
    if (!mine || mine.n === undefined) continue;
    for (const c of q.constraints || []) {
      const [kind, other] = Object.entries(c)[0];
      const theirs = valid[other];
      if (!theirs || theirs.n === undefined) continue;
      const holds = kind === 'at_most' ? mine.n <= theirs.n : mine.n >= theirs.n;
      if (!holds) add(q.id, { rule: kind, other });
    }
  }
  return out;
}

// A count: a whole number from 0 to max.
function checkCount(v, field, required, max) {
  if (v === undefined || v === null) return required ? [{ field, rule: 'required' }] : [];
  if (typeof v !== 'number' || !Number.isInteger(v)) return [{ field, rule: 'type', expected: 'count' }];
  return v < 0 || v > max ? [{ field, rule: 'range', min: 0, max }] : [];
}

// pollwatch_domain::report::check: the problems of one report's payload.
function checkReport(forms, kind, payload) {
  const one = (field, p) => [Object.assign({ field }, p)];
  const limits = forms.limits;
  if (kind === 'checklist') {
    const id = payload.checklist;
    if (id === undefined || id === null) return one('checklist', { rule: 'required' });
    if (typeof id !== 'string') return one('checklist', { rule: 'type', expected: 'text' });
    const f = forms.checklists[id];
    if (!f) return one('checklist', { rule: 'unknown' });
    if (payload.form_version !== f.version) return one('form_version', { rule: 'version', current: f.version });
    if (!isObj(payload.answers)) return one('answers', { rule: 'type', expected: 'object' });
    return checkAnswers(f.questions, payload.answers, 'answers.');
  }
  if (kind === 'incident') {
    const tax = forms.incidents;
    const out = [];
    let cat = null;
    const c = payload.category;
    if (c === undefined || c === null) out.push({ field: 'category', rule: 'required' });
    else if (typeof c !== 'string') out.push({ field: 'category', rule: 'type', expected: 'category' });
    else if (!(cat = tax.categories.find((x) => x.code === c))) out.push({ field: 'category', rule: 'unknown' });
    const sev = payload.severity;
    if (sev !== undefined && sev !== null && !['critical', 'serious', 'minor'].includes(sev)) out.push({ field: 'severity', rule: 'choice' });
    const al = payload.alert;
    if (al !== undefined && al !== null && !isClientId(al)) out.push({ field: 'alert', rule: 'type', expected: 'client_id' });
    const d = payload.details;
    if (d !== undefined && d !== null) {
      if (!isObj(d)) out.push({ field: 'details', rule: 'type', expected: 'object' });
      else if (cat) out.push(...checkAnswers(cat.details, d, 'details.'));
    }
    const common = {};
    for (const [k, v] of Object.entries(payload)) if (!RESERVED_INCIDENT_KEYS.includes(k)) common[k] = v;
    out.push(...checkAnswers(tax.fields, common, ''));
    return out;
  }
  if (kind === 'protocol') {
    const t = forms.protocol;
    if (typeof payload.status !== 'string') return one('status', { rule: 'required' });
    if (!t.statuses.some((x) => x.id === payload.status)) return one('status', { rule: 'unknown' });
    const fig = payload.figures;
    if (fig === undefined || fig === null) return [];
    if (!isObj(fig)) return one('figures', { rule: 'type', expected: 'object' });
    // In the server's order (its JSON object keeps keys sorted), so that the
    // first problem is the same.
    for (const key of Object.keys(fig).sort()) {
      const v = fig[key];
      if (key === 'candidates') {
        if (!isObj(v)) return one('figures.candidates', { rule: 'type', expected: 'object' });
        for (const c of Object.keys(v).sort()) {
          const field = 'figures.candidates.' + c;
          if (!t.candidates.some((x) => x.id === c)) return one(field, { rule: 'unknown' });
          const p = checkCount(v[c], field, true, limits.figure);
          if (p.length) return p;
        }
      } else if (key === 'A') {
        const p = checkCount(v, 'figures.A', false, limits.figure);
        if (p.length) return p;
      } else {
        const field = 'figures.' + key;
        if (!t.lines.some((l) => l.id === key)) return one(field, { rule: 'unknown' });
        const p = checkCount(v, field, false, limits.figure);
        if (p.length) return p;
      }
    }
    return [];
  }
  if (kind === 'headcount') {
    const p = checkCount(payload.counted, 'counted', true, limits.headcount);
    return p.length ? p : checkCount(payload.announced, 'announced', false, limits.figure);
  }
  return [];
}

// pollwatch_domain::report::check_against_register: figures beyond what the
// station's register allows, with the bounds /me/stations serves for each of
// the observer's stations (none known: the server alone checks).
function checkRegister(number, kind, payload) {
  const s = S.stations.find((x) => x.number === number);
  if (!s || s.headcount_max == null) return [];
  const out = [];
  const over = (field, n, max) => { if (Number.isInteger(n) && n > max) out.push({ field, rule: 'range', min: 0, max }); };
  if (kind === 'headcount') for (const k of ['counted', 'announced']) over(k, payload[k], s.headcount_max);
  if (kind === 'protocol' && isObj(payload.figures)) {
    for (const [k, v] of Object.entries(payload.figures)) {
      if (isObj(v)) for (const [c, n] of Object.entries(v)) over('figures.' + k + '.' + c, n, s.protocol_max);
      else over('figures.' + k, v, s.protocol_max);
    }
  }
  return out;
}

// The protocol's control relations, as the server parsed them: exact, in
// BigInt millionths, like pollwatch_domain::forms::protocol. Failing ones
// never stop a protocol (it is evidence); they are shown as it is typed.
function evalSide(side, t, fig) {
  let sum = BigInt(Math.round(side.constant));
  for (const [id, coef] of Object.entries(side.terms)) {
    const c = BigInt(Math.round(coef));
    let vals;
    if (id === 'CANDIDATES') vals = t.candidates.map((x) => fig.candidates[x.id]);
    else if (id === 'A') vals = [fig.A];
    else if (t.lines.some((l) => l.id === id)) vals = [fig[id]];
    else vals = [fig.candidates[id]];
    for (const v of vals) { if (v === undefined) return undefined; sum += c * BigInt(v); }
  }
  return sum;
}
function checkRelations(t, fig) {
  const abs = (x) => (x < 0n ? -x : x);
  return t.relations.map((r) => {
    const l = evalSide(r.left, t, fig);
    const rt = evalSide(r.right, t, fig);
    if (l === undefined || rt === undefined) return null;
    const cmp = r.comparison;
    const ok = cmp === 'equal' ? l === rt : cmp === 'at_most' ? l <= rt : cmp === 'at_least' ? l >= rt
      : abs(l - rt) * 1000000n <= BigInt(Math.round(cmp.about.tolerance * 1e6)) * abs(rt);
    return { r, ok, l: Number(l) / 1e6, rt: Number(rt) / 1e6 };
  }).filter(Boolean);
}

// ---- problems, in the observer's words ----
// `ctx.label(field)` gives the text of the question a field answers;
// `ctx.value(field)` the answer, for constraints.
function problemText(p, ctx) {
  const key = 'rule_' + p.rule;
  const template = tr(key);
  if (template === key) {
    // A rule this app does not know (a newer server), or a refusal that is
    // not about an answer: the server's own words, with the field's text.
    const name = ctx.label(p.field) || p.field;
    return (name ? '«' + name + '»: ' : '') + (p.message || p.rule);
  }
  const scope = p.field.includes('.') ? p.field.slice(0, p.field.lastIndexOf('.') + 1) : '';
  const vals = {
    q: ctx.label(p.field) || p.question || p.field,
    other: p.other ? ctx.label(scope + p.other) || p.other : '',
    when: p.when ? ctx.label(scope + p.when) || p.when : '',
    values: (p.values || []).map((v) => tr(v)).join(', '),
    v: ctx.value(p.field), ov: p.other ? ctx.value(scope + p.other) : '',
    min: p.min, max: p.max, max_length: p.max_length, current: p.current,
  };
  return template.replace(/\{(\w+)\}/g, (_, k) => (vals[k] === undefined ? '' : vals[k]));
}

// Mark each field with its problem (red outline, the message next to it),
// and list them all under the form; answers the list's text.
function markProblems(root, problems, ctx, errEl) {
  for (const el of root.querySelectorAll('.bad')) el.classList.remove('bad');
  for (const el of root.querySelectorAll('.field-err')) el.remove();
  const texts = problems.map((p) => {
    const text = problemText(p, ctx);
    const el = root.querySelector('[data-field="' + CSS.escape(p.field) + '"]');
    if (el) {
      el.classList.add('bad');
      el.setAttribute('aria-invalid', 'true');
      el.append(h('p', { class: 'field-err', role: 'alert' }, text));
    }
    return text;
  });
  errEl.replaceChildren(...(texts.length ? [tr('check_answers') + ':', h('ul', {}, texts.map((t) => h('li', {}, t)))] : []));
  const first = root.querySelector('.bad');
  if (first && first.scrollIntoView) first.scrollIntoView({ block: 'center' });
  return texts.join('; ');
}

// Question texts by field, for a list of questions under a scope.
function labels(map, qs, scope) { for (const q of qs) map[scope + q.id] = loc(q.text); return map; }

// Render questions of a form; answers() collects what is visible and filled.
function questions(list, prefix, scope) {
  const wrap = h('div', { class: 'questions' });
  const get = {};
  const put = {};
  const sets = {};
  for (const q of list) {
    const name = prefix + q.id;
    let input;
    let read;
    let write;
    const label = loc(q.text);
    if (q.type === 'yes_no' || q.type === 'single_choice') {
      const choices = q.type === 'yes_no' ? [{ id: 'yes', text: { en: tr('yes'), ru: tr('yes'), kk: tr('yes') } }, { id: 'no', text: { en: tr('no'), ru: tr('no'), kk: tr('no') } }] : q.choices;
      input = h('div', {}, choices.map((c) => h('label', { class: 'opt' }, h('input', { type: 'radio', name, value: c.id, onchange: refresh }), loc(c.text))));
      read = () => { const c = $('input[name="' + name + '"]:checked', input); return c ? c.value : undefined; };
      write = (v) => { for (const el of input.querySelectorAll('input')) el.checked = el.value === v; };
    } else if (q.type === 'multiple_choice') {
      input = h('div', {}, q.choices.map((c) => h('label', { class: 'opt' }, h('input', { type: 'checkbox', name, value: c.id }), loc(c.text))));
      read = () => [...input.querySelectorAll('input:checked')].map((c) => c.value);
      write = (v) => { for (const el of input.querySelectorAll('input')) el.checked = Array.isArray(v) && v.includes(el.value); };
    } else if (q.type === 'number') {
      input = h('input', { type: 'number', inputmode: 'numeric', name, min: q.min, max: q.max, step: 1 });
      read = () => (input.value === '' ? undefined : Number(input.value));
      write = (v) => { input.value = v == null ? '' : String(v); };
    } else if (q.type === 'time') {
      input = h('input', { type: 'time', name });
      read = () => input.value || undefined;
      write = (v) => { input.value = v || ''; };
    } else if (q.type === 'photo') {
      const shas = [];
      const note = h('span', { class: 'hint' });
      input = h('div', {}, h('input', { type: 'file', accept: 'image/*', capture: 'environment', name, multiple: true, onchange: async (e) => {
        for (const f of e.target.files) shas.push(await addPhoto(f));
        note.textContent = tr('photos_added').replace('{n}', shas.length);
      } }), note);
      read = () => (shas.length ? shas.slice() : undefined);
      write = (v) => { shas.splice(0, shas.length, ...(Array.isArray(v) ? v : v ? [v] : [])); note.textContent = shas.length ? tr('photos_added').replace('{n}', shas.length) : ''; };
    } else {
      input = h('textarea', { name, maxlength: q.max_length || 2000 });
      read = () => input.value.trim() || undefined;
      write = (v) => { input.value = v || ''; };
    }
    const field = h('fieldset', { 'data-q': q.id, 'data-field': scope + q.id }, h('legend', {}, label + (q.required ? ' *' : '')), input);
    wrap.append(field);
    get[q.id] = read;
    put[q.id] = write;
    sets[q.id] = field;
  }
  function visible(q) {
    if (!q.when) return true;
    const v = get[q.when.question] && visible(list.find((x) => x.id === q.when.question)) ? get[q.when.question]() : undefined;
    return v !== undefined && q.when.values.includes(v);
  }
  function refresh() { for (const q of list) sets[q.id].classList.toggle('hidden', !visible(q)); }
  refresh();
  // What the observer answered, as the server takes it: questions not
  // asked (hidden) are left out; the checker judges the rest.
  wrap.answers = () => {
    const out = {};
    for (const q of list) {
      if (!visible(q)) continue;
      const v = get[q.id]();
      if (v !== undefined) out[q.id] = v;
    }
    return out;
  };
  wrap.fill = (answers) => {
    for (const [id, v] of Object.entries(answers || {})) if (put[id]) put[id](v);
    refresh();
  };
  return wrap;
}

// A form page. `onSubmit` answers a list of problems (then nothing is sent)
// or nothing. A correction of a refused report shows the server's reasons
// and lets the observer change the station too.
function formView(title, body, onSubmit, ctx, fix) {
  const err = h('div', { class: 'err', role: 'alert', id: 'form-problems' });
  const stationInput = fix ? h('input', { type: 'text', id: 'fix-station', value: fix.body.station || '' }) : null;
  const form = h('form', { class: 'q', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const station = stationInput ? stationInput.value.trim() || null : S.station;
    const problems = await onSubmit(station, fix ? fix.id : null);
    if (problems && problems.length) { markProblems(form, problems, ctx, err); return; }
    location.hash = '#home';
    home();
    toast(tr('saved'));
  } }, fix ? h('p', { class: 'hint', id: 'correcting' }, tr('correcting')) : null,
  fix ? h('label', { 'data-field': 'station' }, tr('fix_station'), stationInput) : null,
  body, err, h('button', { class: 'primary', type: 'submit' }, tr('send')));
  show(h('h1', {}, title), form);
  if (fix) markProblems(form, serverProblems(fix.why), ctx, err);
}

// A refusal's problems; one with none listed is shown on its field.
function serverProblems(why) {
  if (why.problems && why.problems.length) return why.problems.map((p) => Object.assign({}, p, { field: p.field.replace(/^payload\./, '') }));
  return [{ field: (why.field || '').replace(/^payload\./, ''), rule: 'server', message: why.message }];
}

function checklist(id, fix) {
  const f = S.forms.checklists[id];
  if (!f) return home();
  const qs = questions(f.questions, 'q-', 'answers.');
  if (fix) qs.fill(fix.body.payload.answers);
  const names = labels({ form_version: loc(f.title), checklist: loc(f.title) }, f.questions, 'answers.');
  const ctx = { label: (k) => names[k], value: (k) => (k.startsWith('answers.') ? qs.answers()[k.slice(8)] : undefined) };
  formView(loc(f.title), qs, async (station, corrects) => {
    const payload = { checklist: f.id, form_version: f.version, answers: qs.answers() };
    const problems = checkReport(S.forms, 'checklist', payload);
    if (problems.length) return problems;
    await sendReport('checklist', payload, station, corrects);
    return null;
  }, ctx, fix);
}

function headcount(fix) {
  const key = 'hc:' + S.station;
  const st = store.get(key, { count: 0, sentHour: null });
  if (fix) st.count = fix.body.payload.counted || 0;
  const count = h('div', { class: 'count', id: 'hc-count', 'aria-live': 'polite' }, st.count);
  const announced = h('input', { type: 'number', inputmode: 'numeric', id: 'hc-announced', min: 0 });
  if (fix && fix.body.payload.announced != null) announced.value = String(fix.body.payload.announced);
  const gap = h('p', { class: 'gap', id: 'hc-gap' });
  const err = h('div', { class: 'err', role: 'alert', id: 'form-problems' });
  const save = () => { store.set(key, st); count.textContent = st.count; showGap(); };
  function showGap() {
    if (announced.value === '') { gap.textContent = ''; return; }
    const d = Number(announced.value) - st.count;
    gap.textContent = tr('gap') + ': ' + (d > 0 ? '+' : '') + d;
    gap.className = 'gap ' + (d > 50 ? 'err' : 'okline');
  }
  announced.oninput = showGap;
  const names = { counted: tr('counted'), announced: tr('announced') };
  const ctx = { label: (k) => names[k], value: () => undefined };
  const snapshot = async () => {
    const a = announced.value === '' ? null : Number(announced.value);
    const payload = { counted: st.count, announced: a };
    let problems = checkReport(S.forms, 'headcount', payload);
    if (!problems.length) problems = checkRegister(fix ? fix.body.station : S.station, 'headcount', payload);
    if (problems.length) { markProblems(view(), problems, ctx, err); return; }
    st.sentHour = new Date().getHours();
    store.set(key, st);
    await sendReport('headcount', payload, fix ? fix.body.station : null, fix ? fix.id : null);
    toast(tr('saved'));
  };
  show(
    h('h1', {}, tr('headcount')),
    h('div', { class: 'counter' },
      h('div', { 'data-field': 'counted' }, count),
      h('button', { class: 'tap', type: 'button', id: 'hc-tap', onclick: () => { st.count += 1; save(); } }, '+1'),
      h('div', { class: 'row' },
        h('button', { class: 'secondary', type: 'button', onclick: () => { st.count = Math.max(0, st.count - 1); save(); } }, '−1'),
        h('button', { class: 'secondary', type: 'button', id: 'hc-send', onclick: snapshot }, tr('send_now'))),
      h('label', { 'data-field': 'announced' }, tr('announced'), announced), gap, err,
      h('p', { class: 'hint' }, tr('headcount_hint'))),
  );
  if (fix) markProblems(view(), serverProblems(fix.why), ctx, err);
}

// An hourly snapshot even if the observer forgets: on the hour, if the
// counter has not been sent this hour.
function hourly() {
  if (!S.station || S.wiped) return;
  const key = 'hc:' + S.station;
  const st = store.get(key, null);
  const hour = new Date().getHours();
  if (st && st.count > 0 && st.sentHour !== hour && new Date().getMinutes() < 5) {
    st.sentHour = hour;
    store.set(key, st);
    sendReport('headcount', { counted: st.count, announced: null });
  }
}

function incident(preset, fix) {
  const tax = S.forms.incidents;
  const given = fix ? fix.body.payload : {};
  if (fix) preset = given.category;
  const cat = h('select', { id: 'inc-category' }, h('option', { value: '' }, '—'), tax.categories.map((c) => h('option', { value: c.code, selected: c.code === preset }, loc(c.name))));
  const sev = h('select', { id: 'inc-severity' }, ['critical', 'serious', 'minor'].map((s) => h('option', { value: s }, tr(s))));
  const details = h('div');
  let detailQs = null;
  const common = questions(tax.fields, 'f-', '');
  const pickCategory = () => {
    const c = tax.categories.find((x) => x.code === cat.value);
    if (c) sev.value = c.severity;
    detailQs = c ? questions(c.details, 'd-', 'details.') : null;
    details.replaceChildren(...(detailQs ? [detailQs] : []));
  };
  cat.onchange = pickCategory;
  pickCategory();
  if (fix) {
    if (given.severity) sev.value = given.severity;
    common.fill(given);
    if (detailQs) detailQs.fill(given.details);
  }
  const names = () => {
    const c = tax.categories.find((x) => x.code === cat.value);
    return labels(labels({ category: tr('category'), severity: tr('severity') }, tax.fields, ''), c ? c.details : [], 'details.');
  };
  const ctx = { label: (k) => names()[k], value: (k) => (k.startsWith('details.') ? (detailQs ? detailQs.answers()[k.slice(8)] : undefined) : common.answers()[k]) };
  formView(tr('incident'), h('div', { class: 'q' }, h('label', { 'data-field': 'category' }, tr('category'), cat), h('label', { 'data-field': 'severity' }, tr('severity'), sev), common, details), async (station, corrects) => {
    const payload = Object.assign({ category: cat.value || null, severity: sev.value, details: detailQs ? detailQs.answers() : {} }, common.answers());
    if (S.alertId && (cat.value === 'OBS-REMOVED' || cat.value === 'OBS-DETAINED')) payload.alert = S.alertId;
    const problems = checkReport(S.forms, 'incident', payload);
    if (problems.length) return problems;
    await sendReport('incident', payload, station, corrects);
    return null;
  }, ctx, fix);
}

function protocol(fix) {
  const p = S.forms.protocol;
  const given = fix ? fix.body.payload : {};
  const status = h('select', { id: 'proto-status' }, p.statuses.map((s) => h('option', { value: s.id }, loc(s.text))));
  const inputs = {};
  const fields = {};
  const num = (id, field, label) => {
    inputs[id] = h('input', { type: 'number', inputmode: 'numeric', min: 0, id: 'proto-' + id, oninput: live });
    fields[id] = field;
    return h('label', { 'data-field': field }, label, inputs[id]);
  };
  const checks = h('ul', { class: 'checks', id: 'proto-checks', 'aria-live': 'polite' });
  const figuresBox = h('div', { class: 'q' },
    p.lines.map((l) => num(l.id, 'figures.' + l.id, l.id + ' · ' + loc(l.text))),
    p.candidates.map((c) => num(c.id, 'figures.candidates.' + c.id, loc(c.name))),
    p.against_all ? num('A', 'figures.A', loc(p.against_all)) : null,
    checks);
  const shas = [];
  const photoNote = h('span', { class: 'hint' });
  const photo = h('input', { type: 'file', accept: 'image/*', capture: 'environment', id: 'proto-photo', multiple: true, onchange: async (e) => {
    for (const f of e.target.files) shas.push(await addPhoto(f));
    photoNote.textContent = tr('photos_added').replace('{n}', shas.length);
  } });
  // The figures as the server takes them.
  function figures() {
    const fig = { candidates: {} };
    for (const l of p.lines) if (inputs[l.id].value !== '') fig[l.id] = Number(inputs[l.id].value);
    for (const c of p.candidates) if (inputs[c.id].value !== '') fig.candidates[c.id] = Number(inputs[c.id].value);
    if (inputs.A && inputs.A.value !== '') fig.A = Number(inputs.A.value);
    return fig;
  }
  function live() {
    const results = checkRelations(p, figures());
    checks.replaceChildren(...results.map(({ r, ok, l, rt }) => h('li', { class: ok ? 'okline' : r.hard ? 'err' : 'warnline' }, (ok ? '✓ ' : r.hard ? '✗ ' : '⚠ ') + loc(r.text) + (ok ? '' : ' (' + l + ' / ' + rt + ')'))));
  }
  if (fix) {
    status.value = given.status;
    const f = given.figures || {};
    for (const l of p.lines) if (f[l.id] != null) inputs[l.id].value = String(f[l.id]);
    for (const c of p.candidates) if (f.candidates && f.candidates[c.id] != null) inputs[c.id].value = String(f.candidates[c.id]);
    if (inputs.A && f.A != null) inputs.A.value = String(f.A);
    shas.push(...(given.photos || []));
    if (shas.length) photoNote.textContent = tr('photos_added').replace('{n}', shas.length);
  }
  const hasFigures = () => ['posted', 'copy_given'].includes(status.value);
  status.onchange = () => figuresBox.classList.toggle('hidden', !hasFigures());
  status.onchange();
  live();
  const names = { status: tr('protocol_status') };
  for (const l of p.lines) names['figures.' + l.id] = l.id + ' · ' + loc(l.text);
  for (const c of p.candidates) names['figures.candidates.' + c.id] = loc(c.name);
  if (p.against_all) names['figures.A'] = loc(p.against_all);
  const ctx = { label: (k) => names[k], value: () => undefined };
  formView(tr('protocol'), h('div', { class: 'q' }, h('label', { 'data-field': 'status' }, tr('protocol_status'), status), figuresBox, h('label', {}, tr('protocol_photo'), photo, photoNote)), async (station, corrects) => {
    const payload = { status: status.value, figures: hasFigures() ? figures() : null, photos: shas.slice() };
    // Figures that break the control relations are still sent: they are
    // evidence. Only what the server would refuse stops them.
    const problems = checkReport(S.forms, 'protocol', payload);
    if (problems.length) return problems;
    const beyond = checkRegister(station || S.station, 'protocol', payload);
    if (beyond.length) return beyond;
    await sendReport('protocol', payload, station, corrects);
    return null;
  }, ctx, fix);
}

// The reports the server refused, with its reasons; each opens in its form,
// filled in as sent, to be corrected and sent again as a new report.
async function refusedList() {
  const items = await refusedAll().catch(() => []);
  const title = (b) => (b.kind === 'checklist' && S.forms.checklists[b.payload.checklist] ? loc(S.forms.checklists[b.payload.checklist].title) : tr('kind_' + b.kind));
  show(
    h('h1', {}, tr('refused_list')),
    h('p', { class: 'hint' }, items.length ? tr('refused_hint') : tr('refused_none')),
    h('ul', { class: 'refused-list' }, items.map((it) => {
      if (!it.body) return h('li', { 'data-refused': it.id }, h('strong', {}, tr('kind_photo')), ' ', h('p', { class: 'err' }, it.why.message));
      const names = fieldNames(it.body);
      const ctx = { label: (k) => names[k], value: (k) => valueAt(it.body.payload, k) };
      return h('li', { 'data-refused': it.id },
        h('strong', {}, title(it.body)), ' · ', tr('station') + ' ' + (it.body.station || '—'), ' · ', new Date(it.body.observed_at).toLocaleString(S.lang),
        h('p', { class: 'err' }, tr('server_said') + ': ', h('ul', {}, serverProblems(it.why).map((p) => h('li', {}, problemText(p, ctx))))),
        h('a', { href: '#fix/' + it.id, class: 'button', 'data-fix': it.id }, tr('correct')));
    })),
  );
}

// The texts of a report's fields, from the forms on the phone.
function fieldNames(b) {
  const f = S.forms;
  if (b.kind === 'checklist') { const c = f.checklists[b.payload.checklist]; return c ? labels({ form_version: loc(c.title), checklist: loc(c.title) }, c.questions, 'answers.') : {}; }
  if (b.kind === 'incident') { const c = f.incidents.categories.find((x) => x.code === b.payload.category); return labels(labels({ category: tr('category'), severity: tr('severity') }, f.incidents.fields, ''), c ? c.details : [], 'details.'); }
  if (b.kind === 'protocol') {
    const names = { status: tr('protocol_status') };
    for (const l of f.protocol.lines) names['figures.' + l.id] = l.id + ' · ' + loc(l.text);
    for (const c of f.protocol.candidates) names['figures.candidates.' + c.id] = loc(c.name);
    return names;
  }
  if (b.kind === 'headcount') return { counted: tr('counted'), announced: tr('announced') };
  return {};
}
function valueAt(payload, path) { return path.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), payload); }

async function fixRefused(id) {
  const it = (await refusedAll().catch(() => [])).find((x) => x.id === id);
  if (!it || !it.body) return refusedList();
  const b = it.body;
  const entry = { id: it.id, body: b, why: it.why };
  if (b.kind === 'checklist') checklist(b.payload.checklist, entry);
  else if (b.kind === 'incident') incident(null, entry);
  else if (b.kind === 'protocol') protocol(entry);
  else if (b.kind === 'headcount') headcount(entry);
  else checkIn(entry);
}

function checkIn(fix) {
  formView(tr('check_in'), h('p', {}, tr('check_in_hint')), async (station, corrects) => { await sendReport('check_in', {}, station, corrects); }, { label: () => '', value: () => undefined }, fix);
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
    smsAlarm(),
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
  else if (name === 'myhome') myHome();
  else if (name === 'refused') refusedList();
  else if (name === 'messages') messagesList();
  else if (name === 'fix') fixRefused(arg);
  else home();
}

async function start() {
  S.t = await getJson('/app/i18n.json', 'i18n') || {};
  S.me = await getJson('/api/v1/me', 'me');
  if (S.wiped) return;
  // Only for an enrolled phone: a revoked one keeps no worker and no cache.
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {});
  S.lang = store.get('lang', (S.me && S.me.language) || 'ru');
  $('#lang').value = S.lang;
  $('#lang').onchange = (e) => { S.lang = e.target.value; store.set('lang', S.lang); updateHeader(); showPending(); route(); showBanner(); };
  S.forms = await getJson('/api/v1/forms', 'forms');
  S.stations = (await getJson('/api/v1/me/stations', 'stations')) || [];
  if (S.wiped) return;
  // Refusals an older version of the app kept in localStorage join the list.
  for (const f of store.get('failed', [])) {
    if (f.item && f.item.client_id) await tx('readwrite', (st) => st.put({ id: f.item.client_id, seq: ++seq, body: f.item, why: { message: String(f.error), problems: [] } }), 'refused');
  }
  localStorage.removeItem('pw:failed');
  S.station = store.get('station', S.stations.length === 1 ? S.stations[0].number : null);
  S.alertId = store.get('alertId', null);
  $('#alarm').onclick = alarm;
  updateHeader();
  window.addEventListener('hashchange', route);
  window.addEventListener('online', () => { flush(); syncMessages(); });
  S.timer = setInterval(() => { flush(); hourly(); }, 5000);
  S.messageTimer = setInterval(syncMessages, MESSAGES_EVERY_MS);
  if (!S.forms) { show(h('p', { class: 'err' }, tr('no_forms'))); return; }
  route();
  showPending();
  showMessages();
  flush();
  syncMessages();
}
document.addEventListener('DOMContentLoaded', start);
