/* Manager skills heatmap widget (anywidget ESM). Draws with WorkbenchHeatmap (prepended by Python); the
 * drill-down arrives from Python in the `drilldown` trait after a click sets `selected`. */
const FIELDS = ["data", "view", "mode", "selected", "drilldown"];

function esc(value) {
  return WorkbenchHeatmap.esc(value);
}

function tableHtml(t) {
  const head = t.columns.map((c) => `<th>${esc(c)}</th>`).join("");
  const body = t.rows.map((r) => `<tr>${r.map((v) => `<td>${esc(typeof v === "number" && !Number.isInteger(v)
    ? v.toFixed(3) : v)}</td>`).join("")}</tr>`).join("");
  return `<h4>${esc(t.title)} (${t.rows.length})</h4><table class="wb-table"><thead><tr>${head}</tr></thead>` +
    `<tbody>${body}</tbody></table>`;
}

function render({ model, el }) {
  el.classList.add("wb-report", "wb-skills-widget");
  el.innerHTML = `<div class="wb-controls">
      <label>View <select class="wb-view"></select></label>
      <label>Colour <select class="wb-mode"><option value="level">level</option>
        <option value="gap">gap to role target</option></select></label>
      <span class="wb-legend"></span></div>
    <p class="wb-view-note"></p><div class="wb-hover">Hover a cell for its numbers; click it for the evidence.</div>
    <div class="wb-layout"><div class="wb-heatmap-box"></div><aside class="wb-drill"></aside></div>`;
  const $ = (s) => el.querySelector(s);
  const viewSel = $(".wb-view");
  const modeSel = $(".wb-mode");

  const drawDrill = () => {
    const d = model.get("drilldown") || {};
    if (!d.title) {
      $(".wb-drill").innerHTML = '<p class="wb-note">Click a cell to see the evidence behind it.</p>';
      return;
    }
    $(".wb-drill").innerHTML = `<h3>${esc(d.title)}</h3><p class="wb-cellsum">${esc(d.summary)}</p>` +
      (d.note ? `<p class="wb-note">${esc(d.note)}</p>` : "") + (d.tables || []).map(tableHtml).join("");
  };

  const draw = () => {
    const data = model.get("data");
    if (!data || !data.views) return;
    const names = Object.keys(data.views);
    viewSel.innerHTML = names.map((n) => `<option value="${n}">${n} × skills</option>`).join("");
    const view = data.views[model.get("view")] || data.views[names[0]];
    viewSel.value = view.kind;
    modeSel.value = model.get("mode");
    $(".wb-legend").innerHTML = WorkbenchHeatmap.legend(model.get("mode"));
    $(".wb-view-note").textContent = [view.note, ...(data.messages || [])].filter(Boolean).join(" ");
    const sel = model.get("selected") || {};
    WorkbenchHeatmap.draw($(".wb-heatmap-box"), view, {
      skills: data.skills,
      mode: model.get("mode"),
      suppressedLabel: data.meta.suppressed_label,
      selected: sel.view === view.kind ? [sel.row, sel.col] : null,
      onSelect: (row, col) => {
        model.set("selected", { view: view.kind, row, col });
        model.save_changes();
      },
      onHover: (text) => { $(".wb-hover").textContent = text; },
    });
  };

  viewSel.addEventListener("change", () => { model.set("view", viewSel.value); model.save_changes(); });
  modeSel.addEventListener("change", () => { model.set("mode", modeSel.value); model.save_changes(); });
  model.on("change:data", draw);
  model.on("change:view", draw);
  model.on("change:mode", draw);
  model.on("change:drilldown", drawDrill);
  draw();
  drawDrill();
}

export default { render };
export { FIELDS };
