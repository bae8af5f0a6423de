/* Workbench skills report: the page around the heatmaps (tabs, drill-down panel, trends, outcome tables).
 * Everything it shows comes from the JSON embedded in the page; it fetches nothing. */
var WorkbenchReport = (function () {
  "use strict";
  var H = WorkbenchHeatmap, esc = H.esc;

  function fmt(value, digits) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      if (Math.abs(value) < 0.01) return value.toPrecision(2);
      return value.toFixed(digits || 2);
    }
    return String(value);
  }

  // A skill's public ids as text ("esco: <uri>; onet: 2.A.2.a"), for the Skills table; "" when none.
  function publicIds(ids) {
    return Object.keys(ids || {}).map(function (k) { return k + ": " + ids[k].join(", "); }).join("; ");
  }

  function table(columns, rows, opts) {
    opts = opts || {};
    var out = ['<table class="wb-table"><thead><tr>'];
    columns.forEach(function (c) { out.push("<th>" + esc(c.replace(/_/g, " ")) + "</th>"); });
    out.push("</tr></thead><tbody>");
    rows.forEach(function (row) {
      var suppressed = opts.suppressedCol !== undefined && row[opts.suppressedCol] === true;
      out.push("<tr" + (suppressed ? ' class="wb-suppressed-row"' : "") + ">");
      row.forEach(function (v, i) {
        if (suppressed && i !== opts.keyCol) {
          out.push(i === opts.suppressedCol ? "<td>" + esc(opts.suppressedLabel) + "</td>" : "<td></td>");
        } else {
          out.push("<td>" + esc(fmt(v, 3)) + "</td>");
        }
      });
      out.push("</tr>");
    });
    out.push("</tbody></table>");
    return out.join("");
  }

  function evidenceTable(data, items) {
    var cols = data.drill_columns;
    return table(cols.map(function (c) { return c === "score" ? "score (0-1)" : c; }), items);
  }

  function drillHtml(data, viewName, view, i, j) {
    var skill = data.skills[j], row = view.rows[i];
    var c = H.cellInfo(view, i, j);
    var label = data.meta.suppressed_label;
    var out = ['<h3>' + esc(row.label) + " · " + esc(skill.name) + "</h3>",
      '<p class="wb-cellsum">' + esc(H.describe(view, data.skills, i, j, label)) + "</p>"];
    if (c.suppressed) {
      out.push('<p class="wb-note">This group is ' + esc(label) + ": too few learners to show without " +
        "identifying them.</p>");
      return out.join("");
    }
    var cell = (data.drill[viewName] || {})[i + ":" + j];
    if (!cell) {
      out.push('<p class="wb-note">No evidence for this skill yet.</p>');
      return out.join("");
    }
    if (viewName === "teams") {
      out.push("<h4>Members (largest gaps first, " + cell.members.length + " of " + cell.n_members + ")</h4>");
      out.push(table(["learner", "level", "low", "high", "evidence", "status"], cell.members));
      out.push("<h4>Latest evidence (" + cell.items.length + " of " + cell.n + ")</h4>");
    } else {
      out.push("<h4>Evidence, newest first (" + cell.items.length + " of " + cell.n + ")</h4>");
    }
    out.push(evidenceTable(data, cell.items));
    out.push('<p class="wb-note">evidence.csv lists every item; event ids find the run and the rubric ' +
      "verdict in the telemetry store (workbench telemetry).</p>");
    return out.join("");
  }

  function trendSvg(periods, series, highlight) {
    var w = 760, h = 300, l = 40, r = 170, t = 14, b = 50;
    var n = Math.max(1, periods.length - 1);
    var xs = function (k) { return l + (w - l - r) * (periods.length === 1 ? 0.5 : k / n); };
    var ys = function (v) { return t + (h - t - b) * (1 - v / 4); };
    var out = ['<svg class="wb-trend" width="' + w + '" height="' + h + '" viewBox="0 0 ' + w + " " + h + '">'];
    for (var v = 0; v <= 4; v++) {
      out.push('<line x1="' + l + '" x2="' + (w - r) + '" y1="' + ys(v) + '" y2="' + ys(v) +
        '" class="wb-grid"/><text x="' + (l - 8) + '" y="' + (ys(v) + 4) + '" class="wb-axis">' + v + "</text>");
    }
    periods.forEach(function (p, k) {
      out.push('<text x="' + xs(k) + '" y="' + (h - b + 16) + '" class="wb-axis wb-axis-x" transform="rotate(-40 ' +
        xs(k) + " " + (h - b + 16) + ')">' + esc(p) + "</text>");
    });
    var names = Object.keys(series), palette = ["#08519c", "#cb181d", "#238b45", "#6a51a3", "#d94801",
      "#3182bd", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"];
    var many = names.length > palette.length, legendRow = 0;
    names.forEach(function (name, idx) {
      var pts = [];
      series[name].forEach(function (value, k) { if (value !== null) pts.push(xs(k) + "," + ys(value)); });
      if (!pts.length) return;
      var strong = name === highlight || !many;
      var colour = name === highlight ? "#000000" : (many ? "#9ecae1" : palette[idx % palette.length]);
      out.push('<polyline class="wb-line" fill="none" stroke="' + colour + '" stroke-width="' + (strong ? 2 : 1) +
        '" points="' + pts.join(" ") + '"><title>' + esc(name) + "</title></polyline>");
      if (!many || name === highlight) {
        var ly = t + 14 * legendRow++;
        out.push('<line x1="' + (w - r + 14) + '" x2="' + (w - r + 30) + '" y1="' + (ly - 4) + '" y2="' + (ly - 4) +
          '" stroke="' + colour + '" stroke-width="2"/><text class="wb-line-label" x="' + (w - r + 34) + '" y="' +
          ly + '">' + esc(name) + "</text>");
      }
    });
    if (many) {
      out.push('<text class="wb-line-label" x="' + (w - r + 14) + '" y="' + (t + 14 * (legendRow + 1)) +
        '">light lines: ' + (names.length - 1) + " groups</text>");
    }
    out.push("</svg>");
    return out.join("");
  }

  function mount(root, data) {
    var meta = data.meta, state = { view: data.views.teams ? "teams" : "people", mode: "level", tab: "heatmap" };
    var num = function (n) { return Number(n).toLocaleString("en-US"); };
    var parts = ['<header class="wb-header"><h1>' + esc(meta.title) + "</h1>",
      '<p class="wb-meta">' + esc(meta.taxonomy.title || meta.taxonomy.id) + " · estimates as of " +
      esc(meta.as_of) + " · " + (meta.scope === "learner" ? "your own data only" :
        esc(num(meta.counts.visible_learners)) + " learners") + " · " + esc(num(meta.counts.events)) +
      " events · " + esc(num(meta.counts.evidence)) + " evidence items" + (meta.scope === "learner" ? "" :
        " · groups under " + esc(meta.min_group_size) + " learners suppressed") + "</p></header>"];
    if (data.messages.length) {
      parts.push('<ul class="wb-messages">' + data.messages.map(function (m) {
        return "<li>" + esc(m) + "</li>"; }).join("") + "</ul>");
    }
    parts.push('<nav class="wb-tabs">' +
      '<button data-tab="heatmap" class="wb-tab wb-active">Heatmap</button>' +
      '<button data-tab="trends" class="wb-tab">Trends</button>' +
      '<button data-tab="outcomes" class="wb-tab">Outcomes</button>' +
      '<button data-tab="about" class="wb-tab">About the estimates</button></nav>');
    parts.push('<section class="wb-panel" data-panel="heatmap"><div class="wb-controls">' +
      (data.views.teams ? '<label>View <select class="wb-view"><option value="teams">teams × skills</option>' +
        '<option value="people">people × skills</option></select></label>' : "") +
      '<label>Colour <select class="wb-mode"><option value="level">level</option>' +
      '<option value="gap">gap to role target</option></select></label>' +
      '<span class="wb-legend"></span></div><p class="wb-view-note"></p>' +
      '<div class="wb-hover" aria-live="polite">Hover a cell for its numbers; click it for the evidence.</div>' +
      '<div class="wb-layout"><div class="wb-heatmap-box"></div>' +
      '<aside class="wb-drill" id="wb-drill"><p class="wb-note">Click a cell to see the evidence behind it.</p>' +
      "</aside></div></section>");
    parts.push('<section class="wb-panel" data-panel="trends" hidden><div class="wb-controls">' +
      '<label>Lines <select class="wb-trend-by"><option value="groups">' +
      (meta.scope === "learner" ? "mean across skills" : "teams (mean across skills)") + "</option>" +
      '<option value="skills">skills' + (meta.scope === "learner" ? "" : " (everyone)") + "</option>" +
      '</select></label></div><div class="wb-trend-box"></div><p class="wb-note">Each point is the mean ' +
      "estimated level at the end of the " + esc(meta.period) + ", from the evidence available then.</p></section>");
    parts.push('<section class="wb-panel" data-panel="outcomes" hidden></section>');
    parts.push('<section class="wb-panel" data-panel="about" hidden></section>');
    root.innerHTML = parts.join("");

    var $ = function (sel) { return root.querySelector(sel); };
    var drill = $(".wb-drill"), hover = $(".wb-hover");

    function redraw() {
      var view = data.views[state.view];
      $(".wb-legend").innerHTML = H.legend(state.mode);
      $(".wb-view-note").textContent = view.note || "";
      var drawn = H.draw($(".wb-heatmap-box"), view, {
        skills: data.skills, mode: state.mode, suppressedLabel: meta.suppressed_label,
        onSelect: function (i, j) { drill.innerHTML = drillHtml(data, state.view, view, i, j); },
        onHover: function (text) { hover.textContent = text; }
      });
      if (!drawn) {
        $(".wb-heatmap-box").innerHTML = '<p class="wb-empty-report">No skill evidence to draw yet.</p>';
      }
      drill.innerHTML = '<p class="wb-note">Click a cell to see the evidence behind it.</p>';
    }

    function drawTrends() {
      var by = $(".wb-trend-by").value, tr = data.trends;
      if (!tr.periods.length) {
        $(".wb-trend-box").innerHTML = '<p class="wb-empty-report">No evidence over time yet.</p>';
        return;
      }
      var series = by === "skills" ? {} : tr.groups;
      if (by === "skills") {
        data.skills.forEach(function (s) { if (tr.skills[s.id]) series[s.name] = tr.skills[s.id]; });
      }
      $(".wb-trend-box").innerHTML = trendSvg(tr.periods, series, by === "groups" ? "all" : null);
    }

    function drawOutcomes() {
      var names = [["all", "Everyone in view"], ["team", "By team"], ["task", "By playbook task"],
        ["period", "By " + meta.period]];
      var out = ['<p class="wb-note">A task is one learner working on one playbook task (retries are attempts). ' +
        "Cost uses each generation's cost, or the model's price in settings.</p>"];
      names.forEach(function (pair) {
        var t = data.outcomes[pair[0]];
        if (!t || !t.rows.length) return;
        out.push("<h3>" + esc(pair[1]) + "</h3>");
        out.push(table(t.columns, t.rows, { suppressedCol: t.columns.indexOf("suppressed"), keyCol: 0,
          suppressedLabel: meta.suppressed_label }));
      });
      if (data.unknown_skills) {
        out.push("<h3>Evidence for skills outside the taxonomy (left out)</h3>");
        out.push(table(data.unknown_skills.columns, data.unknown_skills.rows));
      }
      $('[data-panel="outcomes"]').innerHTML = out.join("");
    }

    function drawAbout() {
      var out = ["<h3>Levels</h3>", table(["level", "name", "descriptor"], data.levels.map(function (l) {
        return [l.level, l.name, l.descriptor]; })),
        "<h3>How a level is estimated</h3><p>Each rubric score (0-1) and each finished playbook task is a " +
        "piece of evidence for the skills it is mapped to. A rubric score counts as three pass/fail trials, " +
        "weighted by who scored it (human 1.0, deterministic or reference check 0.8, AI judge 0.6 times its " +
        "confidence); a finished task counts as half a trial. Evidence also counts by recency " +
        "(half the weight every 120 days). Mastery follows a Beta posterior from a weak prior " +
        "(level 1); the level is 4 × its mean and the interval its 10th-90th percentiles. Gap = role target " +
        "− level; <b>below</b> means the whole interval is under the target.</p>",
        "<h3>Skills</h3>", table(["id", "name", "group", "description", "public ids"], data.skills.map(function (s) {
          return [s.id, s.name, s.group, s.description, publicIds(s.external_ids)]; }))];
      $('[data-panel="about"]').innerHTML = out.join("");
    }

    root.querySelectorAll(".wb-tab").forEach(function (btn) {
      btn.addEventListener("click", function () {
        state.tab = btn.getAttribute("data-tab");
        root.querySelectorAll(".wb-tab").forEach(function (b) { b.classList.toggle("wb-active", b === btn); });
        root.querySelectorAll(".wb-panel").forEach(function (p) {
          p.hidden = p.getAttribute("data-panel") !== state.tab; });
      });
    });
    if ($(".wb-view")) $(".wb-view").addEventListener("change", function (e) { state.view = e.target.value; redraw(); });
    $(".wb-mode").addEventListener("change", function (e) { state.mode = e.target.value; redraw(); });
    $(".wb-trend-by").addEventListener("change", drawTrends);
    redraw();
    drawTrends();
    drawOutcomes();
    drawAbout();
    root.setAttribute("data-ready", "1");
    return state;
  }

  return { mount: mount, drillHtml: drillHtml, table: table, trendSvg: trendSvg };
})();
