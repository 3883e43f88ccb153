// The Vela web console's script (src/broker/console/console.js), embedded in vela-broker.
"use strict";
(function () {
  // ---- DOM helpers: data only ever goes in as text or attribute values. ----
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] === null || attrs[k] === undefined) return;
        if (k === "text") node.textContent = String(attrs[k]);
        // Through the CSS object model: the page's policy refuses style attributes.
        else if (k === "style") node.style.cssText = String(attrs[k]);
        else node.setAttribute(k, String(attrs[k]));
      });
    }
    for (var i = 2; i < arguments.length; i++) add(node, arguments[i]);
    return node;
  }
  function add(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { add(node, c); }); return; }
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  var SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }
  function num(n) { return n === null || n === undefined ? "-" : Number(n).toLocaleString("en-US"); }
  function pad(n, w) { var s = String(n); while (s.length < (w || 2)) s = "0" + s; return s; }
  function time(ms) {
    if (!ms || ms <= 0) return "-";
    var d = new Date(ms);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" +
      pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }
  function ago(ms) {
    if (!ms || ms <= 0) return "never";
    var s = Math.round((Date.now() - ms) / 1000);
    if (s < 0) return "in " + duration(-s * 1000);
    return duration(s * 1000) + " ago";
  }
  function duration(ms) {
    var s = Math.floor(ms / 1000);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }
  function bytes(n) {
    if (n === null || n === undefined) return "-";
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0, v = n;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v : v.toFixed(1)) + " " + units[i];
  }
  function isSystemTopic(name) {
    return name.charAt(0) === "%" || name.indexOf("RMQ_SYS_") === 0 || name === "TBW102" ||
      name.indexOf("SCHEDULE_TOPIC") === 0 || name.indexOf("TRANS_") === 0 || name.indexOf("rmq_sys_") === 0;
  }
  function lagBadge(lag) {
    return el("span", { "class": "badge " + (lag === 0 ? "ok" : lag < 1000 ? "warn" : "bad"), text: num(lag) });
  }
  function link(href, text) { return el("a", { href: href, text: text }); }
  function q(params) {
    return Object.keys(params).filter(function (k) { return params[k] !== "" && params[k] !== undefined; })
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
  }

  // ---- The JSON API. ----
  // GET `path`; with `form` (an object), POST it as a form with the write header the broker
  // requires of the console's write actions (consoleWriteEnabled=true).
  function api(path, form) {
    var init = { headers: { "Accept": "application/json" }, cache: "no-store" };
    if (form) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/x-www-form-urlencoded";
      init.headers["X-Vela-Console"] = "write";
      init.body = q(form);
    }
    return fetch(path, init).then(function (res) {
      return res.text().then(function (text) {
        var body = null;
        try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
        if (!res.ok) {
          var err = new Error(body && body.error ? body.error : "HTTP " + res.status + " from " + path);
          err.status = res.status;
          throw err;
        }
        if (body === null) throw new Error("the broker answered " + path + " with something other than JSON");
        return body;
      });
    });
  }
  // Whether the broker runs with consoleWriteEnabled=true (asked once per page load).
  var clusterInfo = api("/api/cluster");
  var writesEnabled = clusterInfo.then(function (c) { return c.consoleWriteEnabled === true; }, function () { return false; });
  // The outcome of the last write action, shown once on the page rendered after it.
  var flash = null;
  function write(path, form, describe) {
    api(path, form).then(function (r) {
      flash = { ok: true, text: describe(r) };
    }, function (e) {
      flash = { ok: false, text: "Refused: " + e.message };
    }).then(sample).then(render);  // a fresh sample first: the plots show the change at once
  }
  function setStatus(ok, text) {
    var s = document.getElementById("status");
    s.className = ok ? "status" : "status down";
    document.getElementById("status-text").textContent = text;
  }

  // ---- Sampling for the plots: the page polls every 2 s and keeps the last 10 minutes. ----
  var SAMPLE_MS = 2000, KEEP = 300;
  var samples = [];  // {t, msgs (sum of user topics' max offsets), lag (all groups), groupLag: {name: lag}}
  var sampling = false;
  // Takes one sample (none while one is running); the promise settles when it is done.
  function sample() {
    if (sampling) return Promise.resolve();
    sampling = true;
    return Promise.all([api("/api/topics?limit=5000"), api("/api/groups?limit=1000")]).then(function (r) {
      var msgs = 0, lag = 0, groupLag = {};
      r[0].topics.forEach(function (t) {
        if (isSystemTopic(t.name)) return;
        t.queues.forEach(function (qq) { msgs += qq.maxOffset; });
      });
      r[1].groups.forEach(function (g) { lag += g.lag; groupLag[g.name] = g.lag; });
      samples.push({ t: Date.now(), msgs: msgs, lag: lag, groupLag: groupLag });
      if (samples.length > KEEP) samples.shift();
      setStatus(true, "updated " + time(Date.now()).substr(11, 8));
      charts.forEach(function (c) { c(); });
    }).catch(function (e) {
      setStatus(false, "broker unreachable: " + e.message);
    }).then(function () { sampling = false; });
  }
  var charts = [];  // redraw functions of the live parts of the current page (charts, the brokers table)
  function rates() {
    var out = [];
    for (var i = 1; i < samples.length; i++) {
      var dt = (samples[i].t - samples[i - 1].t) / 1000;
      if (dt > 0) out.push({ t: samples[i].t, v: Math.max(0, (samples[i].msgs - samples[i - 1].msgs) / dt) });
    }
    return out;
  }
  // A line chart panel of `series()` ([{t, v}]), redrawn at every sample.
  // `wide`: the panel spans the page (a wider drawing keeps the text at its size).
  function chart(title, unit, series, color, wide) {
    var box = el("div", { "class": "panel chart" });
    function draw() {
      var pts = series();
      box.textContent = "";
      var last = pts.length ? pts[pts.length - 1].v : null;
      box.appendChild(el("h2", null, title));
      var W = wide ? 1180 : 580, H = 170, L = 46, R = 8, T = 10, B = 22;
      var s = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title });
      var max = 4;
      pts.forEach(function (p) { if (p.v > max) max = p.v; });
      max = niceMax(max);
      var steps = max / Math.pow(10, Math.floor(Math.log10(max))) === 2 ? 4 : 5;
      for (var g = 0; g <= steps; g++) {
        var y = T + (H - T - B) * g / steps;
        s.appendChild(svg("line", { x1: L, x2: W - R, y1: y, y2: y, stroke: "#eef0f3", "stroke-width": 1 }));
        var label = svg("text", { x: L - 6, y: y + 4, "text-anchor": "end", "font-size": 10, fill: "#98a2b3" });
        label.textContent = shortNum(max * (steps - g) / steps);
        s.appendChild(label);
      }
      var now = Date.now(), span = KEEP * SAMPLE_MS;
      [0, 2, 4, 6, 8, 10].forEach(function (m) {
        var x = W - R - (W - L - R) * (m * 60000) / span;
        var t = svg("text", { x: x, y: H - 6, "text-anchor": m === 0 ? "end" : "middle", "font-size": 10, fill: "#98a2b3" });
        t.textContent = m === 0 ? "now" : "-" + m + " min";
        s.appendChild(t);
      });
      if (pts.length >= 2) {
        var d = "", area = "";
        pts.forEach(function (p, i) {
          var x = W - R - (W - L - R) * Math.min(span, now - p.t) / span;
          var y = T + (H - T - B) * (1 - p.v / max);
          d += (i ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
          if (i === 0) area = "M" + x.toFixed(1) + " " + (H - B);
          area += "L" + x.toFixed(1) + " " + y.toFixed(1);
          if (i === pts.length - 1) area += "L" + x.toFixed(1) + " " + (H - B) + "Z";
        });
        s.appendChild(svg("path", { d: area, fill: color, "fill-opacity": 0.12 }));
        s.appendChild(svg("path", { d: d, fill: "none", stroke: color, "stroke-width": 2, "vector-effect": "non-scaling-stroke" }));
      }
      if (pts.length < 5) {
        var wait = svg("text", { x: (W + L) / 2, y: (H - B) / 2, "text-anchor": "middle", "font-size": 13, fill: "#98a2b3" });
        wait.textContent = "collecting samples: every 2 s while this page is open (" + pts.length + " so far)";
        s.appendChild(wait);
      }
      box.appendChild(s);
      box.appendChild(el("div", { "class": "legend" },
        el("span", null, "last 10 minutes, sampled by this page"),
        el("span", { "class": "now" }, last === null ? "-" : shortNum(last) + " " + unit)));
    }
    charts.push(draw);
    draw();
    return box;
  }
  function niceMax(v) {
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function shortNum(v) {
    if (v >= 1e9) return (v / 1e9).toFixed(1).replace(/\.0$/, "") + "G";
    if (v >= 1e6) return (v / 1e6).toFixed(1).replace(/\.0$/, "") + "M";
    if (v >= 1e4) return (v / 1e3).toFixed(1).replace(/\.0$/, "") + "k";
    return v >= 100 || v === Math.round(v) ? String(Math.round(v)) : v.toFixed(1);
  }

  // ---- Page building blocks. ----
  function card(label, value, hint, small) {
    return el("div", { "class": "card" }, el("div", { "class": "label", text: label }),
      el("div", { "class": "value" + (small ? " small" : ""), text: value }), hint ? el("div", { "class": "hint", text: hint }) : null);
  }
  function table(headers, rows, empty) {
    if (!rows.length) return empty;
    var head = el("tr");
    headers.forEach(function (h) {
      var numeric = h.charAt(0) === "#";
      head.appendChild(el("th", { "class": numeric ? "num" : null, text: numeric ? h.substr(1) : h }));
    });
    return el("table", null, el("thead", null, head), el("tbody", null, rows));
  }
  function emptyState(title, text) { return el("div", { "class": "empty" }, el("strong", { text: title }), text); }
  function errorBox(e) {
    return el("div", { "class": "error", role: "alert", "data-testid": "error" },
      el("strong", null, "Could not load this page. "), e.message);
  }
  function page(title, sub) {
    var view = document.getElementById("view");
    view.textContent = "";
    charts = [];
    view.appendChild(el("h1", { text: title }));
    if (sub) view.appendChild(el("p", { "class": "sub", text: sub }));
    return view;
  }
  // A bar of `ratio` (0..1); `relative`: a share of the largest (no alarm colours).
  function meter(ratio, relative) {
    var m = el("div", { "class": "meter" + (relative ? "" : ratio > 0.9 ? " bad" : ratio > 0.75 ? " warn" : "") });
    m.appendChild(el("div", { style: "width:" + Math.round(Math.min(1, Math.max(0, ratio)) * 100) + "%" }));
    return m;
  }

  // ---- Pages. ----
  function clusterPage(view) {
    return api("/api/cluster").then(function (c) {
      var st = c.store, disk = st.disk;
      view.appendChild(el("div", { "class": "cards" },
        card("Broker", c.brokerName, c.clusterName + " · id " + c.brokerId, true),
        card("Address", c.brokerAddr, "version " + c.version, true),
        card("Uptime", duration(c.uptimeMs), "since " + time(Date.now() - c.uptimeMs), true),
        card("Topics", num(c.topics)),
        card("Groups", num(c.groups)),
        card("Commit log", bytes(st.commitLogMaxOffset - st.commitLogMinOffset), num(st.commitLogSegments) + " segment(s)"),
        card("Disk used", disk ? Math.round(disk.usedRatio * 100) + " %" : "-",
          disk ? bytes(disk.availableBytes) + " free of " + bytes(disk.totalBytes) : "unknown")));
      view.appendChild(brokersPanel());
      view.appendChild(el("div", { "class": "grid2" },
        chart("Messages in per second", "msg/s", rates, "#2563eb"),
        chart("Consumer lag, all groups", "messages", function () {
          return samples.map(function (s) { return { t: s.t, v: s.lag }; });
        }, "#d97706")));
      var rows = [
        ["Store directory", st.rootDir], ["Flush", st.flushDiskType],
        ["Writable", st.diskWritable ? "yes" : "no (disk full or failed: sends are refused)"],
        ["Commit log offsets", num(st.commitLogMinOffset) + " .. " + num(st.commitLogMaxOffset) + " (flushed " + num(st.commitLogFlushedOffset) + ")"],
        ["Build", c.version + " (" + c.commit + ")"]];
      var panel = el("div", { "class": "panel" }, el("h2", { text: "Store" }));
      var kv = el("div", { "class": "kv", style: "padding:0" });
      rows.forEach(function (r) { kv.appendChild(el("div", { text: r[0] })); kv.appendChild(el("div", { text: r[1] })); });
      if (disk) { kv.appendChild(el("div", { text: "Disk" })); kv.appendChild(el("div", null, meter(disk.usedRatio))); }
      panel.appendChild(kv);
      view.appendChild(panel);
    });
  }

  // The brokers of the cluster (/api/brokers: the name servers' list, each broker asked for its
  // status by this one), refreshed with every sample while the page is open.
  function brokersPanel() {
    var box = el("div", { "class": "panel flush brokers", "data-testid": "brokers" });
    var head = el("div", { "class": "panel-head" }, el("h2", { text: "Brokers" }));
    var summary = el("span", { "class": "sub", text: "surveying the cluster\u2026" });
    head.appendChild(summary);
    var body = el("div");
    box.appendChild(head);
    box.appendChild(body);
    var loading = false;
    function refresh() {
      if (loading) return;
      loading = true;
      api("/api/brokers").then(function (r) {
        body.textContent = "";
        var down = r.brokers.filter(function (b) { return !b.reachable; }).length;
        summary.textContent = r.brokers.length + " broker(s)" + (down ? " \u00b7 " + down + " unreachable" : "") +
          (r.truncated ? " \u00b7 first " + r.brokers.length + " of " + r.registered + " listed" : "") +
          " \u00b7 surveyed " + time(r.takenAtMs).substr(11, 8);
        if (r.namesrvErrors.length) {
          body.appendChild(el("div", { "class": "note bad inset", text: "Name server(s) not answering: " + r.namesrvErrors.join("; ") }));
        }
        body.appendChild(table(["Broker", "Address", "State", "Last registration", "#Msg/s in / out", "#Commit log",
          "Disk used", "#Uptime", "Version"], r.brokers.map(brokerRow),
          emptyState("No brokers listed", "The name servers know no broker yet, or none of them answered.")));
      }, function (e) {
        body.textContent = "";
        body.appendChild(el("div", { "class": "error inset", role: "alert", text: "Could not survey the cluster: " + e.message }));
      }).then(function () { loading = false; });
    }
    charts.push(refresh);
    refresh();
    return box;
  }
  function brokerRow(b) {
    var host = b.address.substr(0, b.address.lastIndexOf(":"));
    var name = b.httpPort && !b.self
      ? el("a", { href: "http://" + host + ":" + b.httpPort + "/#/cluster", title: "open the console of " + b.brokerName, text: b.brokerName })
      : el("strong", { text: b.brokerName });
    var who = el("td", { "class": "who", "data-broker": b.brokerName }, name, b.self ? el("span", { "class": "badge blue tag", text: "this broker" }) : null,
      el("div", { "class": "cell-sub", text: b.clusterName + " \u00b7 id " + b.brokerId }));
    var state = el("td", null, el("span", { "class": "badge " + (b.reachable ? "ok" : "bad"), text: b.reachable ? "reachable" : "unreachable" }));
    var age = b.lastRegistrationAgeMs === null ? "never" : duration(Math.max(0, b.lastRegistrationAgeMs)) + " ago";
    var row = el("tr", { "data-reachable": String(b.reachable), "class": b.reachable ? null : "down" }, who,
      el("td", { "class": "mono", text: b.address }), state, el("td", { text: age, title: time(b.lastRegistrationMs) }));
    if (!b.reachable) {
      row.appendChild(el("td", { "class": "failure", colspan: 5, "data-testid": "broker-error" },
        el("div", { text: "No figures: it did not answer this broker." }), el("div", { "class": "mono", text: b.error })));
      return row;
    }
    function rate(v) { return v === null ? "-" : shortNum(v); }
    var perSec = b.rateWindowMs === null ? null : rate(b.messagesInPerSec) + " / " + rate(b.messagesOutPerSec);
    row.appendChild(el("td", { "class": "num" }, perSec || "\u2013",
      el("div", { "class": "cell-sub", text: "total " + num(b.messagesIn) + " / " + num(b.messagesOut) })));
    row.appendChild(el("td", { "class": "num", text: bytes(b.commitLogBytes) }));
    row.appendChild(b.diskUsedRatio === null ? el("td", { text: "-" })
      : el("td", { "class": "disk" }, el("span", { text: Math.round(b.diskUsedRatio * 100) + " %" }), meter(b.diskUsedRatio)));
    row.appendChild(el("td", { "class": "num", text: b.uptimeMs === null ? "-" : duration(b.uptimeMs) }));
    row.appendChild(el("td", { text: b.version || "-" }));
    return row;
  }

  function topicsPage(view, params) {
    return api("/api/topics?limit=5000").then(function (r) {
      var showSystem = params.get("system") === "1";
      var filter = params.get("filter") || "";
      var toolbar = el("div", { "class": "toolbar" });
      var input = el("input", { type: "text", placeholder: "Filter by name", value: filter, "aria-label": "filter topics" });
      var box = el("input", { type: "checkbox" });
      box.checked = showSystem;
      toolbar.appendChild(input);
      toolbar.appendChild(el("label", { "class": "check" }, box, "system topics"));
      toolbar.appendChild(el("span", { "class": "grow" }));
      var count = el("span", { "class": "sub", style: "margin:0" });
      toolbar.appendChild(count);
      function go() { location.hash = "#/topics?" + q({ filter: input.value, system: box.checked ? "1" : "" }); }
      input.addEventListener("change", go);
      box.addEventListener("change", go);
      view.appendChild(toolbar);
      view.appendChild(chart("Messages in per second, all topics", "msg/s", rates, "#2563eb", true));
      var rows = [];
      r.topics.forEach(function (t) {
        if (!showSystem && isSystemTopic(t.name)) return;
        if (filter && t.name.toLowerCase().indexOf(filter.toLowerCase()) < 0) return;
        var stored = 0, maxSum = 0, last = 0;
        t.queues.forEach(function (qq) { stored += qq.maxOffset - qq.minOffset; maxSum += qq.maxOffset; last = Math.max(last, qq.lastStoreTimestampMs); });
        rows.push(el("tr", { "data-topic": t.name },
          el("td", null, link("#/topics/" + encodeURIComponent(t.name), t.name)),
          el("td", null, el("span", { "class": "badge" + (t.messageType === "NORMAL" ? "" : " blue"), text: t.messageType })),
          el("td", { "class": "num", text: t.readQueues + " / " + t.writeQueues }),
          el("td", { "class": "num", text: num(stored) }),
          el("td", { "class": "num", text: num(maxSum) }),
          el("td", { text: last ? ago(last) : "never", title: time(last) })));
      });
      count.textContent = rows.length + " topic(s)" + (r.next ? " (first " + r.topics.length + " listed)" : "");
      view.appendChild(el("div", { "class": "panel flush", "data-testid": "topics" },
        table(["Topic", "Type", "#Queues r/w", "#Messages kept", "#Max offset", "Last stored"], rows,
          emptyState(filter ? "No topic matches \u201c" + filter + "\u201d" : "No topics yet",
            "Create one with vela-admin topic create NAME, or send to it when autoCreateTopicEnable is on."))));
    });
  }

  function topicPage(view, name) {
    return api("/api/topics?" + q({ name: name })).then(function (r) {
      var t = r.topics[0];
      view.appendChild(el("div", { "class": "cards" },
        card("Type", t.messageType, null, true), card("Queues", t.readQueues + " read / " + t.writeQueues + " write", null, true),
        card("Permission", String(t.perm), "6 = read + write", true)));
      var rows = t.queues.map(function (qq) {
        return el("tr", null, el("td", { "class": "num", text: qq.queueId }), el("td", { "class": "num", text: num(qq.minOffset) }),
          el("td", { "class": "num", text: num(qq.maxOffset) }), el("td", { "class": "num", text: num(qq.maxOffset - qq.minOffset) }),
          el("td", { text: time(qq.lastStoreTimestampMs) }));
      });
      view.appendChild(el("div", { "class": "panel flush" }, el("h2", { text: "Queues" }),
        table(["#Queue", "#Min offset", "#Max offset", "#Messages kept", "Last stored"], rows, emptyState("No queues", ""))));
      view.appendChild(el("p", null, link("#/messages?" + q({ topic: name }), "Search this topic's messages by key \u2192")));
    });
  }
  function groupsPage(view) {
    return api("/api/groups?limit=1000").then(function (r) {
      view.appendChild(chart("Consumer lag, all groups", "messages", function () {
        return samples.map(function (s) { return { t: s.t, v: s.lag }; });
      }, "#d97706", true));
      var rows = r.groups.map(function (g) {
        return el("tr", { "data-group": g.name },
          el("td", null, link("#/groups/" + encodeURIComponent(g.name), g.name)),
          el("td", null, el("span", { "class": "badge", text: g.broadcast ? "broadcast" : "clustering" }),
            g.consumeEnable ? null : el("span", { "class": "badge bad", text: "consume disabled", style: "margin-left:6px" })),
          el("td", { "class": "num", text: num(g.members) }),
          el("td", { text: g.topics.map(function (t) { return t.topic; }).join(", ") || "-" }),
          el("td", { "class": "num" }, lagBadge(g.lag)),
          el("td", { "class": "num", text: g.maxRetries }));
      });
      view.appendChild(el("div", { "class": "panel flush", "data-testid": "groups" },
        table(["Group", "Mode", "#Members", "Topics", "#Lag", "#Max retries"], rows,
          emptyState("No consumer groups yet", "A group appears when a consumer of it starts, or with vela-admin group create NAME."))));
    });
  }

  function groupPage(view, name) {
    return api("/api/groups?name=" + encodeURIComponent(name)).then(function (r) {
      var g = r.groups[0];
      var queues = 0;
      g.topics.forEach(function (t) { queues += t.queues.length; });
      view.appendChild(el("div", { "class": "cards" },
        el("div", { "class": "card" }, el("div", { "class": "label", text: "Lag" }),
          el("div", { "class": "value", id: "group-lag", "data-lag": g.lag, text: num(g.lag) }), el("div", { "class": "hint", text: "messages left to consume" })),
        card("Members", num(g.members), g.members ? "consumers online" : "no consumer online"),
        card("Queues", num(queues), g.topics.length + " topic(s)"),
        card("Mode", g.broadcast ? "broadcast" : "clustering", "max retries " + g.maxRetries, true)));
      view.appendChild(chart("Lag of " + g.name, "messages", function () {
        return samples.filter(function (s) { return g.name in s.groupLag; }).map(function (s) { return { t: s.t, v: s.groupLag[g.name] }; });
      }, "#d97706", true));
      if (!g.topics.length) {
        view.appendChild(el("div", { "class": "panel" }, emptyState("No committed offsets yet", "The group has not consumed from any topic on this broker.")));
      }
      g.topics.forEach(function (t) {
        var max = 1;
        t.queues.forEach(function (qq) { if (qq.lag > max) max = qq.lag; });
        var rows = t.queues.map(function (qq) {
          return el("tr", { "data-queue": qq.queueId },
            el("td", { "class": "num", text: qq.queueId }), el("td", { "class": "num", text: num(qq.brokerOffset) }),
            el("td", { "class": "num", text: qq.consumerOffset < 0 ? "none" : num(qq.consumerOffset) }),
            el("td", { "class": "num", "data-lag": qq.lag }, lagBadge(qq.lag)),
            el("td", { style: "width:28%" }, meter(qq.lag / max, true)));
        });
        view.appendChild(el("div", { "class": "panel flush", "data-topic": t.topic },
          el("h2", null, "Topic ", link("#/topics/" + encodeURIComponent(t.topic), t.topic), " \u00b7 lag " + num(t.lag)),
          table(["#Queue", "#Broker offset", "#Committed offset", "#Lag", ""], rows, null)));
      });
      view.appendChild(resetOffsetPanel(g));
      var members = g.memberIds.map(function (id) { return el("tr", null, el("td", { "class": "mono", text: id })); });
      view.appendChild(el("div", { "class": "panel flush" }, el("h2", { text: "Members" }),
        table(["Client id"], members, emptyState("No consumer online", "Members are the consumers of this group connected to this broker."))));
      view.appendChild(el("p", null, link("#/dlq?" + q({ group: g.name }), "Dead letters of " + g.name + " \u2192")));
    });
  }

  // The group page's "Reset offset" form (writes on), or how to do it with vela-admin (writes off).
  function resetOffsetPanel(g) {
    var panel = el("div", { "class": "panel", "data-testid": "reset-offset" });
    writesEnabled.then(function (enabled) {
      if (!enabled) {
        panel.appendChild(el("div", { "class": "note", style: "margin:0" },
          "Read-only: reset offsets with vela-admin group reset-offset " + g.name + " --topic T (--to earliest|latest | --to-time MS). The console's write actions are off (consoleWriteEnabled=false)."));
        return;
      }
      var topics = el("datalist", { id: "group-topics" });
      g.topics.forEach(function (t) { topics.appendChild(el("option", { value: t.topic })); });
      var topicIn = el("input", { type: "text", name: "topic", list: "group-topics", placeholder: "topic", value: g.topics.length ? g.topics[0].topic : "" });
      var toIn = el("select", { name: "to" }, el("option", { value: "earliest", text: "earliest" }),
        el("option", { value: "latest", text: "latest" }), el("option", { value: "time", text: "a time" }));
      var timeIn = el("input", { type: "datetime-local", name: "time", step: "1" });
      panel.appendChild(el("h2", { text: "Reset offset" }));
      var form = el("form", { "class": "search", style: "margin:0" },
        el("label", null, "Topic", topicIn, topics), el("label", null, "To", toIn), el("label", null, "Time (local)", timeIn),
        el("button", { type: "submit", text: "Reset offset", "data-testid": "reset-offset-submit" }));
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var params = { group: g.name, topic: topicIn.value.trim() };
        if (toIn.value === "time") {
          var ms = new Date(timeIn.value).getTime();
          if (!timeIn.value || isNaN(ms)) { flash = { ok: false, text: "Choose a time to reset to." }; render(); return; }
          params.time = String(ms);
        } else {
          params.to = toIn.value;
        }
        if (!window.confirm("Move the committed offsets of " + g.name + " on " + params.topic + " to " + (params.to || time(Number(params.time))) + "?")) return;
        write("/api/groups/reset-offset", params, function (r) {
          var lag = 0;
          r.queues.forEach(function (qq) { lag += qq.lag; });
          return "Offsets of " + r.group + " on " + r.topic + " reset: " + r.queues.map(function (qq) {
            return "queue " + qq.queueId + " \u2192 " + qq.consumerOffset;
          }).join(", ") + " (lag " + lag + ").";
        });
      });
      panel.appendChild(form);
    });
    return panel;
  }

  function messageCard(m) {
    var props = el("table");
    var body = el("tbody");
    Object.keys(m.properties).sort().forEach(function (k) {
      body.appendChild(el("tr", null, el("td", { "class": "mono", text: k, style: "padding:5px 12px 5px 0" }),
        el("td", { "class": "mono", text: m.properties[k], style: "padding:5px 0; word-break:break-all" })));
    });
    props.appendChild(body);
    var kv = el("div", { "class": "kv" });
    [["Topic", m.topic], ["Queue / offset", m.queueId + " / " + num(m.queueOffset)], ["Tag", m.tag || "-"],
     ["Keys", m.keys.length ? m.keys.join(", ") : "-"], ["Born", time(m.bornTimestampMs) + " at " + m.bornHost],
     ["Stored", time(m.storeTimestampMs) + " on " + m.storeHost], ["Reconsume times", m.reconsumeTimes],
     ["Commit log offset", num(m.physicalOffset)]].forEach(function (r) {
      kv.appendChild(el("div", { text: r[0] }));
      kv.appendChild(el("div", { text: r[1] }));
    });
    var text = m.body !== undefined ? m.body : m.bodyBase64;
    var bodyNote = (m.body !== undefined ? "text" : "binary, base64") + ", " + bytes(m.bodySize) +
      (m.bodyTruncated ? " (first part shown)" : "");
    return el("div", { "class": "panel flush msg", "data-testid": "message", "data-id": m.id },
      el("div", { "class": "head" }, el("span", { "class": "mono", text: m.id }),
        el("a", { href: "#/messages?" + q({ id: m.id }), text: "link to this message" })),
      kv,
      el("div", { "class": "cols" },
        el("div", null, el("h2", { text: "Properties" }), Object.keys(m.properties).length ? props : el("span", { "class": "sub", text: "none" })),
        el("div", null, el("h2", null, "Body ", el("span", { "class": "sub", text: "(" + bodyNote + ")" })),
          el("pre", { "class": "body", "data-testid": "body", text: text }))));
  }

  // The trace timeline of one message (the events recorded on this broker, in time order).
  function tracePanel(t) {
    var detailKeys = ["status", "result", "group", "attempt", "client_id", "broker", "queue", "offset", "keys", "tags", "detail"];
    var rows = t.events.map(function (e) {
      var details = detailKeys.filter(function (k) { return e[k] !== undefined; })
        .map(function (k) { return k + "=" + e[k]; }).join("  ");
      var cost = e.cost_us !== undefined ? (e.cost_us / 1000).toFixed(3) + " ms" : "";
      return el("tr", { "data-event": e.type },
        el("td", { "class": "mono", text: time(e.time_ms) }), el("td", { text: e.type }),
        el("td", { "class": "num", text: cost }), el("td", { "class": "mono", text: details }));
    });
    return el("div", { "class": "panel flush", "data-testid": "trace" },
      el("h2", null, "Trace ", el("span", { "class": "sub", text: "(" + t.events.length + " event(s) recorded on this broker" +
        (t.unreadable ? ", " + t.unreadable + " unreadable" : "") + ")" })),
      table(["Time", "Event", "#Cost", "Details"], rows,
        emptyState("No trace recorded", "The message was not sent or consumed with tracing on (EnableTrace, --trace), or its events are on another broker: vela-admin message trace ID asks them all.")));
  }

  function messagesPage(view, params) {
    var topic = params.get("topic") || "", key = params.get("key") || "", id = params.get("id") || "";
    var form = el("form", { "class": "search panel" });
    var tIn = el("input", { type: "text", name: "topic", value: topic, placeholder: "topic" });
    var kIn = el("input", { type: "text", name: "key", value: key, placeholder: "message key" });
    var iIn = el("input", { type: "text", name: "id", value: id, placeholder: "32 hex digits", style: "min-width:300px" });
    form.appendChild(el("label", null, "Topic", tIn));
    form.appendChild(el("label", null, "Key", kIn));
    form.appendChild(el("span", { "class": "sub", style: "margin:0 4px 8px", text: "or" }));
    form.appendChild(el("label", null, "Message id", iIn));
    form.appendChild(el("button", { type: "submit", text: "Search" }));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      location.hash = "#/messages?" + (iIn.value.trim() ? q({ id: iIn.value.trim() }) : q({ topic: tIn.value.trim(), key: kIn.value.trim() }));
    });
    view.appendChild(form);
    var results = el("div", { "data-testid": "results" });
    view.appendChild(results);
    if (!id && !(topic && key)) {
      results.appendChild(el("div", { "class": "panel" }, emptyState("Find a message",
        "By key (the topic and one of the keys the producer set) or by its message id. The address of a search can be shared.")));
      return Promise.resolve();
    }
    var path = "/api/messages?" + (id ? q({ id: id }) : q({ topic: topic, key: key }));
    return api(path).then(function (r) {
      var what = id ? "id " + id : "key \u201c" + key + "\u201d in " + topic;
      results.appendChild(el("p", { "class": "sub", "data-testid": "result-count",
        text: r.messages.length + " message(s) with " + what + (r.limit && r.messages.length >= r.limit ? " (the first " + r.limit + ")" : "") }));
      if (!r.messages.length) {
        results.appendChild(el("div", { "class": "panel" }, emptyState("Nothing found", "No message of " + topic + " carries the key \u201c" + key + "\u201d on this broker.")));
      }
      if (r.undecodable) {
        results.appendChild(el("div", { "class": "error", role: "alert", text: "A stored record did not decode (corrupt): the list stops before it. See the broker's log." }));
      }
      r.messages.forEach(function (m) { results.appendChild(messageCard(m)); });
      if (id && r.messages.length) {
        return api("/api/trace?" + q({ id: id })).then(function (t) { results.appendChild(tracePanel(t)); });
      }
    }).catch(function (e) {
      if (e.status === 404) {
        results.appendChild(el("div", { "class": "panel" }, emptyState("Nothing found", e.message)));
        return;
      }
      throw e;
    });
  }

  function timersPage(view) {
    return api("/api/timers").then(function (t) {
      view.appendChild(el("div", { "class": "cards" },
        card("Pending", num(t.pending), "timer messages not yet due"),
        card("Next due", t.nextDueMs ? ago(t.nextDueMs) : "-", t.nextDueMs ? time(t.nextDueMs) : "nothing pending", true),
        card("Delivered", num(t.delivered), "since the broker started"),
        card("Recalled", num(t.recalled)),
        card("Lateness p99", (t.latenessP99Us / 1000).toFixed(1) + " ms", "p50 " + (t.latenessP50Us / 1000).toFixed(1) + " ms, max " + (t.latenessMaxUs / 1000).toFixed(1) + " ms")));
      var rows = t.pendingByTopic.map(function (p) {
        return el("tr", null, el("td", null, link("#/topics/" + encodeURIComponent(p.topic), p.topic)), el("td", { "class": "num", text: num(p.pending) }));
      });
      view.appendChild(el("div", { "class": "panel flush" }, el("h2", { text: "Pending by topic" + (t.pendingByTopicTruncated ? " (largest first, first 100)" : "") }),
        table(["Topic", "#Pending"], rows, emptyState("No pending timers", "Messages sent with a delay or a delivery time wait here until due."))));
    });
  }

  function transactionsPage(view) {
    return api("/api/transactions?limit=500").then(function (r) {
      view.appendChild(el("div", { "class": "cards" },
        card("Pending", num(r.pending), r.oldestPendingStoreMs ? "oldest stored " + ago(r.oldestPendingStoreMs) : "half messages"),
        card("Committed", num(r.committed), "since the broker started"),
        card("Rolled back", num(r.rolledBack)),
        card("Check-backs sent", num(r.checksSent)),
        card("Discarded", num(r.discarded), "wait for vela-admin transaction resolve")));
      var rows = r.transactions.map(function (t) {
        return el("tr", null, el("td", { "class": "mono", text: t.transactionId }), el("td", { text: t.producerGroup }),
          el("td", { text: t.topics.join(", ") }), el("td", { "class": "num", text: num(t.messageCount) }),
          el("td", { text: time(t.firstStoreMs) }), el("td", { "class": "num", text: t.checkTimes }),
          el("td", null, el("span", { "class": "badge " + (t.discarded ? "bad" : "warn"), text: t.discarded ? "discarded" : "pending" })));
      });
      view.appendChild(el("div", { "class": "panel flush" }, el("h2", { text: "Pending transactions" + (r.truncated ? " (first " + r.transactions.length + ")" : "") }),
        table(["Transaction", "Producer group", "Topics", "#Messages", "First stored", "#Checks", "State"], rows,
          emptyState("No pending transactions", "Half messages wait here until their producer commits or rolls back."))));
    });
  }

  function dlqPage(view, params) {
    var group = params.get("group") || "";
    var form = el("form", { "class": "search panel" });
    var gIn = el("input", { type: "text", name: "group", value: group, placeholder: "consumer group" });
    form.appendChild(el("label", null, "Group", gIn));
    form.appendChild(el("button", { type: "submit", text: "Show dead letters" }));
    form.addEventListener("submit", function (ev) { ev.preventDefault(); location.hash = "#/dlq?" + q({ group: gIn.value.trim() }); });
    view.appendChild(form);
    if (!group) {
      view.appendChild(el("div", { "class": "panel" }, emptyState("Choose a group",
        "Messages a group failed to consume maxRetries times land in its dead-letter topic %DLQ%<group>.")));
      return Promise.resolve();
    }
    return Promise.all([api("/api/dlq?" + q({ group: group, limit: 100 })), writesEnabled]).then(function (both) {
      var r = both[0], enabled = both[1];
      function resent(n) { return "Resent " + n + " dead letter(s) of " + group + " into %RETRY%" + group + ": the group consumes them again."; }
      if (!enabled) {
        view.appendChild(el("div", { "class": "note" },
          "Read-only: resend dead letters with vela-admin group dlq-resend " + group + " (--id ID | --all). The console's write actions are off (consoleWriteEnabled=false)."));
      } else if (r.messages.length) {
        var all = el("button", { type: "button", "data-testid": "resend-all", text: "Resend all" });
        all.addEventListener("click", function () {
          if (!window.confirm("Resend every dead letter of " + group + " into %RETRY%" + group + "?")) return;
          write("/api/dlq/resend", { group: group, all: "true" }, function (res) { return resent(res.resent); });
        });
        view.appendChild(el("div", { "class": "note" }, "Resend puts a dead letter back into %RETRY%" + group + " (once): the group consumes it again. ", all));
      }
      var rows = r.messages.map(function (m) {
        var action = null;
        if (enabled) {
          var b = el("button", { type: "button", "class": "small", "data-resend": m.id, text: "Resend" });
          b.addEventListener("click", function () {
            write("/api/dlq/resend", { group: group, id: m.id }, function (res) { return resent(res.resent); });
          });
          action = el("td", null, b);
        }
        var origin = m.properties.RETRY_TOPIC || m.properties.REAL_TOPIC || "";
        var preview = m.body !== undefined ? m.body : "base64:" + m.bodyBase64;
        return el("tr", null, el("td", { "class": "mono" }, link("#/messages?" + q({ id: m.id }), m.id)),
          el("td", { text: origin || m.topic }), el("td", { text: m.keys.join(", ") || "-" }),
          el("td", { text: time(m.storeTimestampMs) }), el("td", { "class": "num", text: m.reconsumeTimes }),
          el("td", { "class": "mono", text: preview.length > 80 ? preview.substr(0, 80) + "\u2026" : preview }), action);
      });
      var headers = ["Message id", "Topic", "Keys", "Dead-lettered", "#Attempts", "Body"].concat(enabled ? [""] : []);
      view.appendChild(el("div", { "class": "panel flush" }, el("h2", { text: "Dead letters of " + group + (r.more ? " (first " + rows.length + ")" : "") }),
        table(headers, rows,
          emptyState("No dead letters", "Every message of " + group + " was consumed, or is still being retried."))));
    });
  }

  // ---- Routing: #/page[/name][?params]; every state of a page is in its address. ----
  var routes = {
    cluster: { title: "Cluster", sub: "The brokers of the cluster, and this broker's store and traffic.", run: clusterPage },
    topics: { title: "Topics", sub: "Topics on this broker with their queues and offsets.", run: topicsPage },
    groups: { title: "Consumer groups", sub: "Committed offsets and lag per group on this broker.", run: groupsPage },
    messages: { title: "Messages", sub: "Search the store by key or by message id.", run: messagesPage },
    timers: { title: "Timers", sub: "Delayed and scheduled messages waiting to be delivered.", run: timersPage },
    transactions: { title: "Transactions", sub: "Half messages waiting for their producer's decision.", run: transactionsPage },
    dlq: { title: "Dead letters", sub: "Messages a group gave up on after its retries.", run: dlqPage }
  };
  var generation = 0;
  function render() {
    var hash = location.hash || "#/cluster";
    var qi = hash.indexOf("?");
    var path = (qi < 0 ? hash : hash.substr(0, qi)).replace(/^#\/?/, "");
    var params = new URLSearchParams(qi < 0 ? "" : hash.substr(qi + 1));
    var parts = path.split("/");
    var name = parts.length > 1 ? decodeURIComponent(parts.slice(1).join("/")) : "";
    var key = routes[parts[0]] ? parts[0] : null;
    Array.prototype.forEach.call(document.querySelectorAll("#nav a"), function (a) {
      a.className = a.getAttribute("data-route") === key ? "active" : "";
    });
    var mine = ++generation;
    var view, work;
    if (!key) {
      view = page("Page not found", "");
      view.appendChild(el("div", { "class": "panel" }, emptyState("No page at " + hash, "Choose a page in the bar above.")));
      return;
    }
    if (key === "topics" && name) {
      view = page(name, "Topic: its queues and offsets.");
      view.insertBefore(el("div", { "class": "crumbs" }, link("#/topics", "Topics"), " / " + name), view.firstChild);
      work = topicPage(view, name);
    } else if (key === "groups" && name) {
      view = page(name, "Consumer group: lag per queue and members.");
      view.insertBefore(el("div", { "class": "crumbs" }, link("#/groups", "Groups"), " / " + name), view.firstChild);
      work = groupPage(view, name);
    } else {
      view = page(routes[key].title, routes[key].sub);
      work = routes[key].run(view, params);
    }
    if (flash) {
      view.insertBefore(el("div", { "class": "note " + (flash.ok ? "ok" : "bad"), role: "status", "data-testid": "write-result", text: flash.text }),
        (view.querySelector("p.sub") || view.querySelector("h1")).nextSibling);
      flash = null;
    }
    document.title = (name || routes[key].title) + " \u00b7 Vela console";
    Promise.resolve(work).catch(function (e) {
      if (mine !== generation) return;
      view.appendChild(errorBox(e));
    });
  }
  window.addEventListener("hashchange", render);
  clusterInfo.then(function (c) {
    document.getElementById("broker-name").textContent = c.brokerName + " \u00b7 " + c.clusterName;
    document.getElementById("footer").textContent = "Vela " + c.version + " \u00b7 " + c.brokerAddr + " \u00b7 " +
      (c.consoleWriteEnabled ? "write actions on (consoleWriteEnabled)" : "read-only console") + " \u00b7 every page is a shareable address";
  }).catch(function () { /* the status line says it */ });
  render();
  sample();
  setInterval(sample, SAMPLE_MS);
})();
