// The situation room, live: applies each update of the group's feed
// (Server-Sent Events) to the page the server rendered, and says when the
// connection is lost. Without this script the page is still right as of
// its load.
(function () {
  "use strict";
  var room = document.getElementById("room");
  if (!room || !window.EventSource) return;
  var labels = JSON.parse(room.dataset.labels || "{}");
  var district = room.dataset.district || "";
  var statusFilter = room.dataset.status || "";
  var live = document.getElementById("live");
  var cue = document.getElementById("critical-cue");
  var seen = {};
  document.querySelectorAll("[data-alert]").forEach(function (el) { seen[el.dataset.alert] = true; });

  function setLive(on) {
    live.textContent = on ? labels.live : labels.lost;
    live.className = "live " + (on ? "on" : "off");
  }

  function tallies(t) {
    if (!t || !t.all) return;
    // A live message carries only the districts it changed: a district
    // view whose district is not among them keeps its figures.
    var shown = district ? t.districts[district] : t.all;
    if (shown) document.querySelectorAll("[data-tally]").forEach(function (el) {
      var v = shown[el.dataset.tally];
      if (v !== undefined) el.textContent = v;
    });
    document.querySelectorAll("tr[data-d]").forEach(function (row) {
      var d = t.districts[row.dataset.d];
      if (!d) return;
      row.querySelectorAll("[data-k]").forEach(function (cell) {
        var k = cell.dataset.k;
        var v = k === "in_danger" ? d.observers_alarm + d.observers_removed + d.observers_detained : d[k];
        if (v !== undefined) cell.textContent = v;
        if (k === "open_alerts") cell.classList.toggle("bad", d.critical_alerts > 0);
      });
    });
  }

  function station(s) {
    if (district && s.district !== district) return;
    document.querySelectorAll('circle[data-n="' + CSS.escape(s.number) + '"]').forEach(function (c) {
      c.setAttribute("class", "st-" + s.status);
    });
    var row = document.querySelector('tr[data-n="' + CSS.escape(s.number) + '"]');
    if (!row) return;
    if (statusFilter && s.status !== statusFilter) { row.classList.add("stale"); }
    row.className = "row-" + s.status;
    var state = row.querySelector(".state");
    if (state) {
      state.textContent = "";
      var dot = document.createElement("span");
      dot.className = "dot st-" + s.status;
      state.appendChild(dot);
      state.appendChild(document.createTextNode(" " + s.status_text));
      if (s.alerts > 0) {
        var tag = document.createElement("span");
        tag.className = "tag bad";
        tag.textContent = " " + s.alerts;
        state.appendChild(tag);
      }
    }
    var set = function (sel, text) { var el = row.querySelector(sel); if (el) el.textContent = text; };
    set(".checked", s.checked_in);
    set(".last", s.last);
    set(".counted", s.counted == null ? "" : s.counted + (s.announced == null ? "" : " / " + s.announced));
    set(".protocol", s.protocol);
  }

  function link(href, text) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  function alertItem(a) {
    var li = document.createElement("li");
    li.className = "alert sev-" + a.severity + " state-" + a.state;
    li.dataset.alert = a.id;
    var head = document.createElement("div");
    head.className = "alert-head";
    var b = document.createElement("strong");
    b.textContent = a.title;
    head.appendChild(b);
    [a.severity_text, a.state_text].forEach(function (t) {
      var tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = t;
      head.appendChild(document.createTextNode(" "));
      head.appendChild(tag);
    });
    li.appendChild(head);
    var meta = document.createElement("small");
    var parts = [a.raised];
    if (a.station) parts.push("№ " + a.station);
    if (a.observer) parts.push(a.observer);
    if (a.count > 1) parts.push("×" + a.count);
    if (a.detail) parts.push(a.detail);
    if (a.assigned_to) parts.push("→ " + a.assigned_to);
    meta.textContent = parts.join(" · ");
    var line = document.createElement("div");
    line.appendChild(meta);
    li.appendChild(line);
    var actions = document.createElement("div");
    actions.className = "alert-actions";
    actions.appendChild(link("/alerts/" + encodeURIComponent(a.id), labels.open));
    if (a.case) {
      actions.appendChild(document.createTextNode(" · "));
      actions.appendChild(link("/cases/" + encodeURIComponent(a.case), "⚖"));
    }
    if (room.dataset.act && a.state === "open") {
      var f = document.createElement("form");
      f.method = "post";
      f.action = "/alerts/" + encodeURIComponent(a.id) + "/step";
      f.className = "inline";
      [["csrf_token", room.dataset.csrf], ["step", "acknowledge"], ["back", location.pathname + location.search]].forEach(function (kv) {
        var i = document.createElement("input");
        i.type = "hidden"; i.name = kv[0]; i.value = kv[1];
        f.appendChild(i);
      });
      var btn = document.createElement("button");
      btn.type = "submit"; btn.className = "small"; btn.textContent = labels.acknowledge;
      f.appendChild(btn);
      actions.appendChild(f);
    }
    li.appendChild(actions);
    return li;
  }

  var rank = { critical: 0, serious: 1, minor: 2 };
  function alertUpdate(a) {
    if (district && a.district && a.district !== district) return;
    var feed = document.getElementById("feed");
    var old = feed.querySelector('[data-alert="' + CSS.escape(a.id) + '"]');
    var item = alertItem(a);
    if (old) feed.replaceChild(item, old);
    else if (a.state !== "resolved") {
      // Newest and most severe first: before the first less severe one.
      var before = null;
      feed.querySelectorAll("li.alert").forEach(function (el) {
        if (before) return;
        var sev = (el.className.match(/sev-(\w+)/) || [])[1];
        if (rank[sev] >= rank[a.severity]) before = el;
      });
      feed.insertBefore(item, before);
      var empty = document.getElementById("feed-empty");
      if (empty) empty.hidden = true;
    }
    if (!seen[a.id] && a.severity === "critical" && a.state === "open") {
      item.classList.add("fresh");
      cue.hidden = false;
      cue.textContent = labels.new_critical + ": " + a.title + (a.station ? " · № " + a.station : "") + (a.observer ? " · " + a.observer : "");
      document.title = "(!) " + document.title.replace(/^\(!\) /, "");
      beep();
    }
    seen[a.id] = true;
  }

  function beep() {
    try {
      var C = window.AudioContext || window.webkitAudioContext;
      if (!C) return;
      var ctx = new C();
      var o = ctx.createOscillator();
      o.frequency.value = 880;
      o.connect(ctx.destination);
      o.start();
      o.stop(ctx.currentTime + 0.4);
    } catch (e) { /* the visible cue is enough */ }
  }

  var source = new EventSource("/api/v1/situation/stream?since=" + encodeURIComponent(room.dataset.seq));
  source.addEventListener("open", function () { setLive(true); });
  source.addEventListener("error", function () { setLive(false); });
  source.addEventListener("hello", function (e) {
    setLive(true);
    // What changed while the page loaded or the connection was down
    // comes next, as an update.
    var h = JSON.parse(e.data);
    if (h.resync) { live.textContent = labels.reload; location.reload(); }
  });
  source.addEventListener("update", function (e) {
    var u = JSON.parse(e.data);
    if (u.resync) { live.textContent = labels.reload; location.reload(); return; }
    room.dataset.seq = u.seq;
    tallies(u.tallies);
    (u.stations || []).forEach(station);
    (u.alerts || []).forEach(alertUpdate);
  });
})();
