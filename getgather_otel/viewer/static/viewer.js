// getgather-otel viewer: a single page over the JSON API (/api/openapi.json).
// Every value from the database is put into the page as text (el() below), never as HTML:
// span names and attributes come from the observed sites and tools.
(function () {
  "use strict";

  var app = document.getElementById("app");
  var config = { refresh_s: 5, replay_port: null };
  var timers = [];
  // Failure classes (capture/failures.py); a classifier may add its own, shown as they come.
  var FAILURE_CLASSES = ["bot_challenge", "signed_out", "element_missing", "navigation_error", "site_error",
                         "browser_crash", "tool_error", "unknown"];
  var SINCE_CHOICES = [["15m", "last 15 minutes"], ["1h", "last hour"], ["24h", "last 24 hours"],
                       ["7d", "last 7 days"], ["30d", "last 30 days"], ["", "all time"]];

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  // replaceChildren() would print null and arrays as text; this skips the one and flattens the other.
  function setChildren(node) {
    node.replaceChildren();
    for (var i = 1; i < arguments.length; i++) append(node, arguments[i]);
  }
  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }

  function api(path, options) {
    return fetch(path, options).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || ("HTTP " + response.status));
        return body;
      });
    });
  }

  function parseHash() {
    var hash = location.hash.replace(/^#/, "") || "/";
    var parts = hash.split("?");
    return { path: parts[0], params: new URLSearchParams(parts[1] || "") };
  }
  function go(path, params) {
    var query = params ? params.toString() : "";
    location.hash = "#" + path + (query ? "?" + query : "");
  }

  function fmtTime(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : ""; }
  function fmtMs(ms) { return ms === null || ms === undefined ? "" : (ms >= 1000 ? (ms / 1000).toFixed(2) + " s" : ms.toFixed(1) + " ms"); }
  function badge(status) { return el("span", { "class": "badge " + status, text: status }); }
  function showError(error) { setChildren(app, el("div", { "class": "error-box", text: String(error.message || error) })); }
  function attributesTable(attributes) {
    var keys = Object.keys(attributes || {}).sort();
    if (!keys.length) return el("p", { "class": "muted", text: "no attributes" });
    return el("table", { "class": "attrs" }, keys.map(function (key) {
      return el("tr", null, el("td", { text: key }), el("td", { text: attributes[key] }));
    }));
  }
  function select(name, label, choices, value, onchange) {
    return el("label", null, label, el("select", { name: name, onchange: onchange }, choices.map(function (choice) {
      return el("option", { value: choice[0], selected: choice[0] === value, text: choice[1] });
    })));
  }

  // ---- Activities list ---------------------------------------------------------------
  var COLUMNS = [["start_time", "started"], ["brand_id", "brand"], ["name", "name"], ["kind", "kind"],
                 ["duration", "duration"], ["status", "status"], [null, "failure"], ["client_name", "client"], [null, "trace"],
                 [null, "error"], [null, "replay"]];
  // One trace's activities (an agent's calls under the trace context its client sent), over all time.
  function traceHref(traceId) { return "#/?trace=" + encodeURIComponent(traceId) + "&since="; }

  function activitiesView(params) {
    var filters = new URLSearchParams(params);
    if (!filters.has("since")) filters.set("since", "24h");
    var live = filters.get("live") !== "0";
    var table = el("div", null, el("p", { "class": "muted", text: "Loading…" }));
    var brands = el("select", { name: "brand", onchange: change }, el("option", { value: "", text: "any brand" }));
    var clients = el("select", { name: "client", onchange: change }, el("option", { value: "", text: "any client" }));

    function change() {
      var next = new URLSearchParams(filters);
      app.querySelectorAll(".filters select, .filters input[type=text]").forEach(function (input) {
        if (input.value) next.set(input.name, input.value); else next.delete(input.name);
      });
      if (!next.get("since")) next.set("since", "");
      next.delete("offset");
      go("/", next);
    }
    function query() {
      var q = new URLSearchParams();
      ["brand", "name", "status", "failure_class", "client", "trace", "since", "sort", "order", "offset"].forEach(function (key) {
        if (filters.get(key)) q.set(key, filters.get(key));
      });
      q.set("limit", "50");
      return q;
    }
    function load() {
      return api("/api/activities?" + query().toString()).then(render).catch(function (error) {
        setChildren(table, el("div", { "class": "error-box", text: error.message }));
      });
    }
    function sortBy(key) {
      var next = new URLSearchParams(filters);
      var same = (filters.get("sort") || "start_time") === key;
      next.set("sort", key);
      next.set("order", same && (filters.get("order") || "desc") === "desc" ? "asc" : "desc");
      next.delete("offset");
      go("/", next);
    }
    function render(page) {
      var sort = filters.get("sort") || "start_time", order = filters.get("order") || "desc";
      var head = el("tr", null, COLUMNS.map(function (column) {
        var key = column[0];
        var cls = key ? "sortable" + (key === sort ? " sorted " + order : "") : "";
        return el("th", { "class": cls, "data-sort": key, onclick: key ? function () { sortBy(key); } : null, text: column[1] });
      }));
      var rows = page.activities.map(function (a) {
        return el("tr", { "class": "row", "data-id": a.activity_id, onclick: function () { go("/activity/" + a.activity_id); } },
          el("td", { text: fmtTime(a.start_time) }),
          el("td", null, el("a", { href: "#/brand/" + encodeURIComponent(a.brand_id), onclick: function (e) { e.stopPropagation(); }, text: a.brand_id || "—" })),
          el("td", { text: a.name }), el("td", { text: a.kind }),
          el("td", { "class": "num", text: fmtMs(a.ms) }), el("td", null, badge(a.status)),
          el("td", { "class": "failure-class", text: a.failure_class || "" }),
          el("td", { "class": "client", text: a.client_name || "" }),
          el("td", null, el("a", { "class": "trace", href: traceHref(a.trace_id), title: "this trace's activities: " + a.trace_id,
            onclick: function (e) { e.stopPropagation(); }, text: a.trace_id.slice(0, 8) })),
          el("td", { text: a.error || "" }), el("td", { text: a.has_recording ? "▶" : "" }));
      });
      var offset = page.offset, shown = page.activities.length;
      function move(delta) {
        var next = new URLSearchParams(filters);
        next.set("offset", String(Math.max(0, offset + delta)));
        go("/", next);
      }
      setChildren(table, 
        el("table", { "class": "grid", id: "activities" }, el("thead", null, head), el("tbody", null, rows)),
        shown ? null : el("p", { "class": "muted", text: "No activities match these filters." }),
        el("div", { "class": "pager" },
          el("button", { disabled: offset === 0, onclick: function () { move(-page.limit); }, text: "← newer" }),
          el("span", { id: "range", text: (shown ? offset + 1 : 0) + "–" + (offset + shown) + " of " + page.total }),
          el("button", { disabled: offset + shown >= page.total, onclick: function () { move(page.limit); }, text: "older →" })));
    }

    setChildren(app, 
      el("h1", { text: "Activities" }),
      el("div", { "class": "filters" },
        el("label", null, "brand", brands),
        el("label", null, "name", el("input", { type: "text", name: "name", value: filters.get("name") || "", onchange: change, placeholder: "tool name" })),
        select("status", "status", [["", "any"], ["ok", "ok"], ["error", "error"]], filters.get("status") || "", change),
        select("failure_class", "failure", [["", "any"]].concat(FAILURE_CLASSES.map(function (c) { return [c, c]; })),
               filters.get("failure_class") || "", change),
        el("label", null, "client", clients),
        el("label", null, "trace", el("input", { type: "text", name: "trace", value: filters.get("trace") || "", onchange: change, placeholder: "trace id" })),
        select("since", "time", SINCE_CHOICES, filters.get("since") || "", change),
        el("label", null, "live", el("input", { type: "checkbox", id: "live", checked: live, onchange: function (e) {
          var next = new URLSearchParams(filters);
          if (e.target.checked) next.delete("live"); else next.set("live", "0");
          go("/", next);
        } }))),
      table);
    api("/api/stats?since=30d").then(function (stats) {
      stats.by_brand.forEach(function (row) {
        brands.appendChild(el("option", { value: row.brand_id, selected: row.brand_id === filters.get("brand"), text: row.brand_id || "(no brand)" }));
      });
      var names = [];
      if (filters.get("client")) names.push(filters.get("client"));
      stats.by_client.forEach(function (row) { if (row.client_name && names.indexOf(row.client_name) < 0) names.push(row.client_name); });
      names.sort().forEach(function (name) {
        clients.appendChild(el("option", { value: name, selected: name === filters.get("client"), text: name }));
      });
    }).catch(function () {});
    load();
    if (live) timers.push(setInterval(load, config.refresh_s * 1000));
  }

  // ---- Brands: latency percentiles and error rate over time ---------------------------
  function seconds(iso) { return Date.parse(iso.replace(/(\.\d{3})\d+/, "$1")) / 1000; }
  function chart(target, title, series, xs, columns, width, window) {
    target.appendChild(el("div", { "class": "chart-title", text: title }));
    var holder = el("div", { "class": "chart" });
    target.appendChild(holder);
    series.forEach(function (s) { s.points = { show: true, size: 5 }; s.spanGaps = false; });
    new uPlot({ width: width, height: 160, series: [{}].concat(series),
                scales: { x: { time: true, range: function () { return window; } } },
                axes: [{}, { size: 60 }] }, [xs].concat(columns), holder);
  }

  // One row per group of a stats report: its label (text or a node), then count, errors and latency.
  function statsTable(what, rows, label, id) {
    return el("table", { "class": "grid", id: id || null },
      el("tr", null, [what, "calls", "errors", "error %", "p50", "p95", "p99"].map(function (t) { return el("th", { text: t }); })),
      rows.map(function (r) {
        return el("tr", null, el("td", null, label(r)), el("td", { "class": "num", text: r.activities }),
          el("td", { "class": "num", text: r.errors }), el("td", { "class": "num", text: r.error_rate_pct }),
          el("td", { "class": "num", text: fmtMs(r.p50_ms) }), el("td", { "class": "num", text: fmtMs(r.p95_ms) }),
          el("td", { "class": "num", text: fmtMs(r.p99_ms) }));
      }));
  }

  function brandsView(params, only) {
    var since = params.get("since") || "24h";
    var query = new URLSearchParams({ since: since });
    if (only !== null) query.set("brand", only);
    setChildren(app, 
      el("h1", { text: only === null ? "Brands" : "Brand: " + (only || "(no brand)") }),
      el("div", { "class": "filters" }, select("since", "time", SINCE_CHOICES.slice(0, 5), since, function (e) {
        go(only === null ? "/brands" : "/brand/" + encodeURIComponent(only), new URLSearchParams({ since: e.target.value }));
      })),
      el("p", { "class": "muted", text: "Loading…" }));
    api("/api/stats?" + query.toString()).then(function (stats) {
      app.lastChild.remove();
      var window = [seconds(stats.since), seconds(stats.until)];
      var grid = el("div", { "class": "brands" });
      app.appendChild(grid);
      if (!stats.by_brand.length) grid.appendChild(el("p", { "class": "muted", text: "No activities in this window." }));
      stats.by_brand.forEach(function (row) {
        var points = stats.series.filter(function (p) { return p.brand_id === row.brand_id; });
        var xs = points.map(function (p) { return p.bucket_start_s; });
        var card = el("div", { "class": "card brand-card", "data-brand": row.brand_id },
          el("h2", null, el("a", { href: "#/brand/" + encodeURIComponent(row.brand_id), text: row.brand_id || "(no brand)" })),
          el("div", { "class": "summary" },
            el("span", null, "calls ", el("b", { text: row.activities })),
            el("span", null, "errors ", el("b", { text: row.errors + " (" + row.error_rate_pct + "%)" })),
            el("span", null, "p50 ", el("b", { text: fmtMs(row.p50_ms) })),
            el("span", null, "p95 ", el("b", { text: fmtMs(row.p95_ms) })),
            el("span", null, "p99 ", el("b", { text: fmtMs(row.p99_ms) })),
            el("a", { href: "#/?brand=" + encodeURIComponent(row.brand_id) + "&since=" + since, text: "activities →" })));
        grid.appendChild(card);
        var width = Math.max(320, card.clientWidth - 30);
        chart(card, "latency (ms), per " + (stats.bucket_s >= 3600 ? stats.bucket_s / 3600 + " h" : stats.bucket_s / 60 + " min"), [
          { label: "p50", stroke: "#2f80ed", width: 2 }, { label: "p95", stroke: "#f2994a", width: 2 }],
          xs, [points.map(function (p) { return p.p50_ms; }), points.map(function (p) { return p.p95_ms; })], width, window);
        chart(card, "error rate (%)", [{ label: "errors %", stroke: "#d64545", fill: "rgba(214,69,69,.15)", width: 2 }],
          xs, [points.map(function (p) { return p.error_rate_pct; })], width, window);
        failuresOf(card, row.brand_id, stats, xs, width, window, since);
      });
      if (only !== null && stats.by_tool.length) {
        app.appendChild(el("h2", { text: "Tools" }));
        app.appendChild(statsTable("tool", stats.by_tool, function (t) { return t.name; }));
      }
      if (stats.by_client.length) {
        app.appendChild(el("h2", { text: "Clients" }));
        app.appendChild(statsTable("client", stats.by_client, function (c) {
          if (!c.client_name) return "(no client)";
          var href = "#/?client=" + encodeURIComponent(c.client_name) + "&since=" + since + (only ? "&brand=" + encodeURIComponent(only) : "");
          return el("a", { href: href, text: c.client_name + (c.client_version ? " " + c.client_version : "") });
        }, "clients"));
      }
    }).catch(showError);
  }

  // Why a brand's activities failed: each class's count and rate, and its rate over time.
  var CLASS_COLOURS = ["#c0392b", "#8e44ad", "#d35400", "#2980b9", "#16a085", "#7f8c8d", "#2c3e50", "#f39c12"];
  function failuresOf(card, brand, stats, xs, width, window, since) {
    var rows = (stats.failures || []).filter(function (f) { return f.brand_id === brand; });
    if (!rows.length) return;
    card.appendChild(el("table", { "class": "grid failures", "data-brand": brand },
      el("tr", null, ["failure class", "failures", "% of calls"].map(function (t) { return el("th", { text: t }); })),
      rows.map(function (f) {
        return el("tr", { "data-class": f.failure_class },
          el("td", null, el("a", { href: "#/?brand=" + encodeURIComponent(brand) + "&failure_class=" +
            encodeURIComponent(f.failure_class) + "&since=" + since, text: f.failure_class })),
          el("td", { "class": "num", text: f.failures }), el("td", { "class": "num", text: f.failure_rate_pct }));
      })));
    var points = (stats.failure_series || []).filter(function (p) { return p.brand_id === brand; });
    var classes = rows.map(function (f) { return f.failure_class; });
    var values = classes.map(function (c) {
      return xs.map(function (x) {
        var hit = points.filter(function (p) { return p.bucket_start_s === x && p.failure_class === c; })[0];
        return hit ? hit.failure_rate_pct : 0;
      });
    });
    chart(card, "failure rate by class (%)", classes.map(function (c, i) {
      return { label: c, stroke: CLASS_COLOURS[i % CLASS_COLOURS.length], width: 2 };
    }), xs, values, width, window);
  }

  // ---- Activity detail: waterfall, attributes, replay ----------------------------------
  function spanTree(spans) {
    var byId = {}, roots = [], ordered = [];
    spans.forEach(function (s) { byId[s.span_id] = { span: s, children: [] }; });
    spans.forEach(function (s) {
      var parent = byId[s.parent_span_id];
      (parent ? parent.children : roots).push(byId[s.span_id]);
    });
    (function walk(nodes, depth) {
      nodes.sort(function (a, b) { return a.span.start_us - b.span.start_us; });
      nodes.forEach(function (node) { ordered.push({ span: node.span, depth: depth }); walk(node.children, depth + 1); });
    })(roots, 0);
    return ordered;
  }

  function activityView(id) {
    setChildren(app, el("p", { "class": "muted", text: "Loading…" }));
    Promise.all([api("/api/activities/" + encodeURIComponent(id)), api("/api/activities/" + encodeURIComponent(id) + "/recordings")])
      .then(function (answers) { renderActivity(answers[0], answers[1]); })
      .catch(showError);
  }

  function renderActivity(detail, recordings) {
    var a = detail.activity, spans = detail.trace.spans;
    var begin = Math.min.apply(null, spans.map(function (s) { return s.start_us; }));
    var end = Math.max.apply(null, spans.map(function (s) { return s.start_us + s.duration_us; }));
    var total = Math.max(end - begin, 1);
    var replayFrame = null, replayOrigin = null;
    var status = el("div", { "class": "replay-status", id: "replay-status" });
    var selected = el("div", { "class": "card", id: "selected-span" });

    function pct(us) { return (100 * (us - begin) / total).toFixed(3) + "%"; }
    function seek(timeUs, label, pageId) {
      if (!replayFrame) { status.textContent = "no replay to seek"; return; }
      replayFrame.contentWindow.postMessage({ type: "getgather-seek", timestamp: timeUs / 1000, page_id: pageId || null }, replayOrigin);
      status.textContent = "seeking to " + label + "…";
    }
    function showSpan(span, row) {
      app.querySelectorAll(".wf-row.selected").forEach(function (r) { r.classList.remove("selected"); });
      row.classList.add("selected");
      setChildren(selected, el("h2", { text: span.name }),
        el("p", { "class": "muted", text: span.kind + " · " + span.service_name + " · " + fmtMs(span.duration_us / 1000) + " · " + span.status_code }),
        span.status_message ? el("div", { "class": "error-box", text: span.status_message }) : null,
        attributesTable(span.attributes),
        span.events.length ? el("h2", { text: "Events" }) : null,
        span.events.map(function (e) {
          return el("div", null, el("b", { text: e.name }), " ", el("span", { "class": "muted", text: fmtTime(e.time) }), attributesTable(e.attributes));
        }));
    }

    var rows = spanTree(spans).map(function (item) {
      var s = item.span, isActivity = s.span_id === a.activity_id;
      var row = el("div", { "class": "wf-row", "data-span": s.span_id, title: s.name },
        el("div", { "class": "wf-name", style: "padding-left:" + item.depth * 14 + "px", text: s.name }),
        el("div", { "class": "wf-track" },
          el("div", { "class": "wf-bar" + (s.status_code === "Error" ? " error" : "") + (isActivity ? " activity" : ""),
                      style: "left:" + pct(s.start_us) + ";width:" + (100 * s.duration_us / total).toFixed(3) + "%" }),
          s.events.map(function (e) {
            return el("button", { "class": "wf-event " + e.name.replace(/[^a-z]/gi, ""), "data-event": e.name,
              style: "left:" + pct(e.time_us), title: e.name + " at " + fmtTime(e.time),
              onclick: function (ev) { ev.stopPropagation(); showSpan(s, row); seek(e.time_us, e.name, e.attributes["getgather.recording.page_id"]); } });
          })),
        el("div", { "class": "wf-ms", text: fmtMs(s.duration_us / 1000) }));
      row.addEventListener("click", function () { showSpan(s, row); seek(s.start_us, s.name); });
      return row;
    });

    var replay = el("div", { "class": "replay" });
    var pages = [];
    recordings.recordings.forEach(function (r) { pages = pages.concat(r.pages); });
    if (pages.length && config.replay_port) {
      replayOrigin = location.protocol + "//" + location.hostname + ":" + config.replay_port;
      replayFrame = el("iframe", { id: "replay", title: "replay", sandbox: "allow-scripts allow-same-origin",
        src: replayOrigin + "/replay/" + encodeURIComponent(recordings.recorded_by) });
      replay.append(el("p", { "class": "muted", text: pages.length + " page(s) recorded" +
        (recordings.recorded_by !== a.activity_id ? " by the enclosing activity " + recordings.recorded_by : "") +
        ". Click a span or an event in the waterfall to seek the replay." }), status, replayFrame);
      window.addEventListener("message", onReplayMessage);
    } else {
      replay.append(el("p", { "class": "muted", text: recordings.pruned ? "The recording was removed: " + recordings.pruned : "No browser recording for this activity." }));
    }
    // The evidence (issue 18): a list to seek from, and the replay opens on the first piece.
    var evidence = detail.evidence || [];
    function evidenceText(e) {
      var at = e.attributes, parts = [];
      ["http.request.method", "http.response.status_code", "getgather.browser.error", "getgather.browser.selector",
       "getgather.failure.selector_matches", "getgather.failure.selector_visible",
       "getgather.failure.document.ready_state", "getgather.browser.sign_in_form",
       "getgather.browser.challenge.provider", "getgather.browser.dialog.type",
       "getgather.browser.dialog.message", "getgather.browser.download.filename", "getgather.browser.resource_type",
       "url.full"].forEach(function (key) {
        if (at[key] !== undefined && at[key] !== "") parts.push(key.split(".").pop() + "=" + at[key]);
      });
      return parts.join(" · ");
    }
    var evidenceList = evidence.length ? el("table", { "class": "grid evidence", id: "evidence" },
      evidence.map(function (e, i) {
        return el("tr", { "class": "row", "data-event": e.name, onclick: function () {
            seek(e.time_us, e.name, e.attributes["getgather.recording.page_id"]); } },
          el("td", { text: "+" + ((e.time_us - begin) / 1e6).toFixed(2) + " s" }), el("td", null, el("b", { text: e.name })),
          el("td", { text: evidenceText(e) }));
      })) : el("p", { "class": "muted", id: "evidence", text: "No evidence: the browser showed no errors, dialogs, downloads or crashes." });
    if (replayFrame && evidence.length) {
      replayFrame.addEventListener("load", function () {
        var first = evidence[0];
        setTimeout(function () {
          seek(first.time_us, "the first evidence (" + first.name + ")", first.attributes["getgather.recording.page_id"]);
          status.setAttribute("data-first-evidence", first.name);
        }, 100);
      });
    }
    function onReplayMessage(event) {
      if (event.origin !== replayOrigin || !event.data || event.data.type !== "getgather-replay-position") return;
      status.textContent = "replay at +" + (event.data.offset_ms / 1000).toFixed(2) + " s on page " + (event.data.page + 1);
      status.setAttribute("data-offset-ms", String(event.data.offset_ms));
    }
    timers.push({ stop: function () { window.removeEventListener("message", onReplayMessage); } });

    setChildren(app, 
      el("h1", null, a.name + " ", badge(a.status),
        a.failure_class ? el("span", { "class": "badge failure", id: "failure-class", text: a.failure_class }) : null),
      el("p", { "class": "muted" }, el("a", { href: "#/brand/" + encodeURIComponent(a.brand_id || ""), text: a.brand_id || "(no brand)" }),
        " · " + a.kind + " · " + fmtMs(a.execution_time_ms) + " · started " + fmtTime(a.start_time),
        a.client_name ? " · client " + a.client_name + (a.client_version ? " " + a.client_version : "") : null,
        " · trace ", el("a", { id: "activity-trace", href: traceHref(a.trace_id), title: "this trace's activities", text: a.trace_id })),
      a.error ? el("div", { "class": "error-box", id: "activity-error", text: (a.error_type ? a.error_type + ": " : "") + a.error }) : null,
      el("h2", { text: "Evidence (" + evidence.length + ")" }), evidenceList,
      el("h2", { text: "Trace (" + spans.length + " spans)" }),
      el("div", { "class": "waterfall", id: "waterfall" }, rows),
      el("h2", { text: "Replay" }), replay,
      el("div", { "class": "details" },
        el("div", null, el("h2", { text: "Span" }), selected),
        el("div", null, el("h2", { text: "Activity attributes" }), el("div", { "class": "card" }, attributesTable(a.attributes)))));
    var own = rows.filter(function (r) { return r.getAttribute("data-span") === a.activity_id; })[0] || rows[0];
    if (own) showSpan(spans.filter(function (s) { return s.span_id === own.getAttribute("data-span"); })[0], own);
  }

  // ---- SQL -----------------------------------------------------------------------------
  function sqlView() {
    var box = el("textarea", { id: "sql", spellcheck: "false" });
    box.value = "SELECT brand_id, name, status, round(execution_time_ms) AS ms\nFROM activities ORDER BY start_time DESC LIMIT 20";
    var out = el("div");
    function run() {
      setChildren(out, el("p", { "class": "muted", text: "Running…" }));
      api("/api/sql", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ sql: box.value }) })
        .then(function (result) {
          setChildren(out, 
            el("p", { "class": "muted", text: result.rows.length + " row(s)" + (result.truncated ? " (truncated)" : "") + " in " + result.elapsed_ms + " ms" }),
            el("table", { "class": "grid" }, el("tr", null, result.columns.map(function (c) { return el("th", { text: c }); })),
              result.rows.map(function (row) {
                return el("tr", null, row.map(function (v) { return el("td", { text: v === null ? "" : (typeof v === "object" ? JSON.stringify(v) : v) }); }));
              })));
        })
        .catch(function (error) { setChildren(out, el("div", { "class": "error-box", text: error.message })); });
    }
    setChildren(app, el("h1", { text: "SQL (read-only)" }), box, el("p", null, el("button", { onclick: run, text: "Run" })), out);
  }

  // ---- Router --------------------------------------------------------------------------
  function route() {
    timers.forEach(function (t) { if (t && t.stop) t.stop(); else clearInterval(t); });
    timers = [];
    var where = parseHash(), path = where.path, match;
    document.querySelectorAll("header nav a").forEach(function (a) {
      var view = a.getAttribute("data-view");
      a.classList.toggle("active", (view === "activities" && path === "/") || path.indexOf("/" + view) === 0 ||
        (view === "brands" && path.indexOf("/brand/") === 0));
    });
    if ((match = path.match(/^\/activity\/([0-9a-f]{16})$/))) activityView(match[1]);
    else if ((match = path.match(/^\/brand\/(.*)$/))) brandsView(where.params, decodeURIComponent(match[1]));
    else if (path === "/brands") brandsView(where.params, null);
    else if (path === "/sql") sqlView();
    else activitiesView(where.params);
  }

  api("/api/config").then(function (c) {
    config = c;
    document.getElementById("database").textContent = c.database + " · v" + c.version;
  }).catch(showError).then(function () {
    window.addEventListener("hashchange", route);
    route();
  });
})();
