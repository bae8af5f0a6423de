/* Workbench skills heatmap: draws a rows x skills matrix as inline SVG (no external resource, no library).
 * Shared by the offline HTML report and the manager widget. The view object is built in Python
 * (workbench/skills/render.py report_payload): rows, level/gap/target/n grids, suppressed flags. */
var WorkbenchHeatmap = (function () {
  "use strict";

  function esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  function mix(a, b, t) {
    var pa = [parseInt(a.slice(1, 3), 16), parseInt(a.slice(3, 5), 16), parseInt(a.slice(5, 7), 16)];
    var pb = [parseInt(b.slice(1, 3), 16), parseInt(b.slice(3, 5), 16), parseInt(b.slice(5, 7), 16)];
    var out = "#";
    for (var i = 0; i < 3; i++) {
      var v = Math.round(pa[i] + (pb[i] - pa[i]) * Math.max(0, Math.min(1, t)));
      out += (v < 16 ? "0" : "") + v.toString(16);
    }
    return out;
  }

  /* Level 0..4: white to deep blue. Gap: green (met) to red (short of target). */
  function color(mode, value) {
    if (mode === "gap") {
      if (value <= 0) return mix("#e5f5e0", "#31a354", Math.min(1, -value / 2));
      return mix("#fee5d9", "#a50f15", Math.min(1, value / 2.5));
    }
    var t = value / 4;
    return t < 0.5 ? mix("#f7fbff", "#6baed6", t * 2) : mix("#6baed6", "#08306b", (t - 0.5) * 2);
  }

  function textColor(mode, value) {
    if (mode === "gap") return Math.abs(value) > 1.4 ? "#ffffff" : "#222222";
    return value > 2.4 ? "#ffffff" : "#222222";
  }

  function cellInfo(view, i, j) {
    var get = function (name) { return view[name] && view[name][i] ? view[name][i][j] : null; };
    return {
      level: get("level"), lo: get("lo"), hi: get("hi"), sd: get("sd"), target: get("target"),
      gap: get("gap"), n: get("n"), status: get("status"), coverage: get("coverage"), met: get("met"),
      suppressed: view.rows[i].suppressed || get("suppressed") === 1,
      roleTarget: view.role_target ? view.role_target[i][j] : null
    };
  }

  function describe(view, skills, i, j, suppressedLabel) {
    var row = view.rows[i], skill = skills[j], c = cellInfo(view, i, j);
    var head = row.label + " · " + skill.name;
    if (c.suppressed) return head + ": " + suppressedLabel;
    if (c.level === null) {
      var t = c.target !== null ? c.target : c.roleTarget;
      return head + ": no evidence" + (t !== null && t !== undefined ? " (target " + t + ")" : "");
    }
    var parts = [head + ": level " + c.level.toFixed(1)];
    if (c.lo !== null && c.hi !== null) parts.push("80% interval " + c.lo.toFixed(1) + "-" + c.hi.toFixed(1));
    if (c.sd !== null && c.sd !== undefined) parts.push("sd " + c.sd.toFixed(2));
    if (c.target !== null) parts.push("target " + (+c.target).toFixed(c.target % 1 ? 1 : 0));
    if (c.gap !== null) parts.push("gap " + (c.gap > 0 ? "+" : "") + c.gap.toFixed(1));
    if (c.status) parts.push(c.status);
    if (view.kind === "teams") parts.push(c.n + " learners with evidence");
    else parts.push(c.n + " evidence items");
    return parts.join(" · ");
  }

  /* Draw `view` into `container`. opts: skills, mode ("level"|"gap"), suppressedLabel, onSelect(i, j),
   * onHover(text). Returns the number of cells drawn. */
  function draw(container, view, opts) {
    var skills = opts.skills, mode = opts.mode || "level";
    var cw = 30, ch = 22, top = 150, rows = view.rows || [], longest = 0;
    for (var n = 0; n < rows.length; n++) {
      longest = Math.max(longest, rows[n].label.length * 6.6 + (rows[n].sub ? rows[n].sub.length * 5.4 + 6 : 0));
    }
    var left = Math.max(120, Math.min(460, longest + 16));
    var width = left + cw * skills.length + 110, height = top + ch * rows.length + 10;
    var svg = ['<svg class="wb-heatmap" role="grid" width="' + width + '" height="' + height +
      '" viewBox="0 0 ' + width + " " + height + '">'];
    svg.push('<defs><pattern id="wb-hatch" width="6" height="6" patternUnits="userSpaceOnUse" ' +
      'patternTransform="rotate(45)"><rect width="6" height="6" fill="#e6e6e6"/>' +
      '<line x1="0" y1="0" x2="0" y2="6" stroke="#bdbdbd" stroke-width="2"/></pattern></defs>');
    for (var j = 0; j < skills.length; j++) {
      var x = left + j * cw + cw / 2;
      svg.push('<text class="wb-col" x="' + x + '" y="' + (top - 6) + '" transform="rotate(-55 ' + x + " " +
        (top - 6) + ')"><title>' + esc(skills[j].group + ": " + skills[j].description) + "</title>" +
        esc(skills[j].name) + "</text>");
    }
    var drawn = 0;
    for (var i = 0; i < rows.length; i++) {
      var y = top + i * ch;
      svg.push('<text class="wb-row' + (rows[i].suppressed ? " wb-row-suppressed" : "") + '" x="' + (left - 6) +
        '" y="' + (y + ch * 0.68) + '"><title>' + esc(rows[i].sub || "") + "</title>" + esc(rows[i].label) +
        (rows[i].sub ? '<tspan class="wb-sub"> ' + esc(rows[i].sub) + "</tspan>" : "") + "</text>");
      for (var k = 0; k < skills.length; k++) {
        var c = cellInfo(view, i, k), fill, label = "", cls = "wb-cell";
        var value = mode === "gap" ? c.gap : c.level;
        if (c.suppressed) { fill = "url(#wb-hatch)"; cls += " wb-suppressed"; }
        else if (c.level === null) { fill = "#f4f4f4"; cls += " wb-empty"; label = "·"; }
        else if (value === null) { fill = "#f4f4f4"; label = "?"; }
        else { fill = color(mode, value); label = (mode === "gap" && value > 0 ? "+" : "") + value.toFixed(1); }
        var selected = opts.selected && opts.selected[0] === i && opts.selected[1] === k;
        var cx = left + k * cw;
        svg.push('<g class="' + cls + (selected ? " wb-selected" : "") + '" data-r="' + i + '" data-c="' + k +
          '" tabindex="0"><title>' + esc(describe(view, skills, i, k, opts.suppressedLabel)) + "</title>" +
          '<rect x="' + (cx + 1) + '" y="' + (y + 1) + '" width="' + (cw - 2) + '" height="' + (ch - 2) +
          '" rx="2" fill="' + fill + '"/>' +
          (label ? '<text x="' + (cx + cw / 2) + '" y="' + (y + ch * 0.68) + '" fill="' +
            (value !== null && !c.suppressed && c.level !== null ? textColor(mode, value) : "#777777") + '">' +
            esc(label) + "</text>" : "") + "</g>");
        drawn++;
      }
    }
    svg.push("</svg>");
    container.innerHTML = svg.join("");
    var handler = function (ev) {
      var node = ev.target;
      while (node && node !== container && !(node.getAttribute && node.getAttribute("data-r") !== null)) {
        node = node.parentNode;
      }
      if (!node || node === container) return;
      var r = +node.getAttribute("data-r"), col = +node.getAttribute("data-c");
      if (ev.type === "click" || (ev.type === "keydown" && (ev.key === "Enter" || ev.key === " "))) {
        var prev = container.querySelector(".wb-selected");
        if (prev) prev.classList.remove("wb-selected");
        node.classList.add("wb-selected");
        if (opts.onSelect) opts.onSelect(r, col);
      } else if (ev.type === "mouseover" && opts.onHover) {
        opts.onHover(describe(view, skills, r, col, opts.suppressedLabel));
      }
    };
    container.onclick = handler;
    container.onmouseover = handler;
    container.onkeydown = handler;
    return drawn;
  }

  function legend(mode) {
    var stops = mode === "gap" ? [-2, -1, 0, 1, 2, 3] : [0, 1, 2, 3, 4];
    var parts = ['<span class="wb-legend-title">' + (mode === "gap" ? "gap to target" : "level") + "</span>"];
    for (var i = 0; i < stops.length; i++) {
      parts.push('<span class="wb-swatch" style="background:' + color(mode, stops[i]) + '"></span>' +
        '<span class="wb-legend-label">' + (mode === "gap" && stops[i] > 0 ? "+" : "") + stops[i] + "</span>");
    }
    parts.push('<span class="wb-swatch wb-swatch-empty"></span><span class="wb-legend-label">no evidence</span>');
    parts.push('<span class="wb-swatch wb-swatch-suppressed"></span><span class="wb-legend-label">suppressed</span>');
    return parts.join("");
  }

  return { draw: draw, legend: legend, describe: describe, cellInfo: cellInfo, esc: esc, color: color };
})();
