// Fine-tuning dashboard (anywidget ESM, no build step).
// State lives in the Python traits listed in FIELDS; this view only draws them (SVG loss curves, stats) and
// sends two actions: {action: "start"} (the Python side trains its config in a worker thread) and
// {action: "stop"} (a StopSignal request: the run ends after the current step).

/**
 * @typedef {{run_name: string, config_name: string, status: string, phase: string, step: number,
 *            total_steps: number, train_loss: number[][], eval_loss: number[][], tokens_per_s: number,
 *            step_time_s: number, memory_bytes: number, peak_memory_bytes: number, memory_kind: string,
 *            eta_s: number, elapsed_s: number, message: string, error: string, summary: Record<string, any>}} TuningState
 */

/** The synced trait names; tests/tuning/test_tuning_widget.py checks them against the Python class. */
export const FIELDS = [
  "run_name", "config_name", "status", "phase", "step", "total_steps", "train_loss", "eval_loss", "tokens_per_s",
  "step_time_s", "memory_bytes", "peak_memory_bytes", "memory_kind", "eta_s", "elapsed_s", "message", "error",
  "summary",
];

/** Statuses during which a run is under way (Start is off, Stop is on). */
const ACTIVE = ["starting", "running", "stopping"];

const SVG = "http://www.w3.org/2000/svg";

/** @param {string} tag @param {Record<string, any>} attrs */
function s(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

export function formatBytes(n) {
  if (!n) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function formatSeconds(t) {
  if (t === null || t === undefined || !isFinite(t)) return "–";
  if (t > 0 && t < 1) return "< 1 s";
  t = Math.round(t);
  const m = Math.floor(t / 60), sec = t % 60;
  return m ? `${m} min ${sec} s` : `${sec} s`;
}

/** The ETA cell: the training steps' ETA while steps remain ("< 1 s", never "0 s"), else what happens now. */
export function formatEta(eta, step, total, status) {
  if (!ACTIVE.includes(status)) return "–";
  if (total && step < total) return formatSeconds(Math.max(eta || 0, 0.1));
  return step && total ? "steps done" : "–";
}

/** Polyline points for series scaled into a width x height box (shared x and y ranges). */
export function scalePoints(series, xmax, ymin, ymax, width, height) {
  const span = ymax - ymin || 1;
  return series.map(([x, y]) => `${(x / Math.max(xmax, 1)) * width},${height - ((y - ymin) / span) * height}`).join(" ");
}

function drawChart(svg, train, evals, total) {
  const W = 480, H = 160, pad = 32;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W + pad + 8} ${H + 24}`);
  const all = [...train, ...evals].map((p) => p[1]);
  if (!all.length) {
    svg.append(Object.assign(s("text", { x: pad + 8, y: H / 2, class: "wb-empty" }), { textContent: "loss curves appear here" }));
    return;
  }
  const ymin = Math.min(...all), ymax = Math.max(...all);
  const xmax = Math.max(total, ...train.map((p) => p[0]), 1);
  const g = s("g", { transform: `translate(${pad},4)` });
  g.append(s("rect", { x: 0, y: 0, width: W, height: H, class: "wb-frame" }));
  for (const [label, y] of [[ymax, 0], [ymin, H]]) {
    g.append(Object.assign(s("text", { x: -4, y: y + 4, class: "wb-axis", "text-anchor": "end" }), { textContent: label.toFixed(2) }));
  }
  g.append(Object.assign(s("text", { x: W, y: H + 16, class: "wb-axis", "text-anchor": "end" }), { textContent: `step ${xmax}` }));
  if (train.length) g.append(s("polyline", { points: scalePoints(train, xmax, ymin, ymax, W, H), class: "wb-train" }));
  if (evals.length) {
    g.append(s("polyline", { points: scalePoints(evals, xmax, ymin, ymax, W, H), class: "wb-eval" }));
    for (const pt of scalePoints(evals, xmax, ymin, ymax, W, H).split(" ")) {
      const [cx, cy] = pt.split(",");
      g.append(s("circle", { cx, cy, r: 3, class: "wb-eval-dot" }));
    }
  }
  svg.append(g);
}

/** The preflight estimate beside the measurement of the same quantity, one row each, with how it was measured. */
function memoryTable(rows) {
  if (!rows.length) return h("span");
  return h("table", { class: "wb-memory-table" }, [
    h("caption", { class: "wb-memory-note" }, [rows.map((r) => `${r.quantity}: ${r.note}.`).join(" ")]),
    h("tr", {}, [h("th", {}, ["memory"]), h("th", {}, ["estimate"]), h("th", {}, ["measured"])]),
    ...rows.map((r) => h("tr", { title: r.note }, [
      h("td", {}, [r.quantity]),
      h("td", {}, [r.estimate_bytes == null ? "not estimated" : formatBytes(r.estimate_bytes)]),
      h("td", {}, [r.measured_bytes == null ? "–" : formatBytes(r.measured_bytes)]),
    ])),
  ]);
}

/** @param {{model: import("@anywidget/types").AnyModel<TuningState>, el: HTMLElement}} props */
function render({ model, el }) {
  const root = h("div", { class: "wb-tuning" });
  el.append(root);

  const title = h("div", { class: "wb-title" });
  const status = h("span", { class: "wb-status" });
  const start = h("button", { class: "wb-start", title: "Train this config in the background (the notebook stays usable)",
    onclick: () => { start.disabled = true; model.send({ action: "start" }); } }, ["Start"]);
  const stop = h("button", { class: "wb-stop", title: "Stop after the current step; keeps a checkpoint and the adapter",
    onclick: () => { model.send({ action: "stop" }); stop.disabled = true; } }, ["Stop"]);
  const progress = h("progress", { class: "wb-progress", max: 1, value: 0 });
  const svg = s("svg", { class: "wb-chart", role: "img", "aria-label": "training and held-out loss" });
  const legend = h("div", { class: "wb-legend" }, [
    h("span", { class: "wb-key wb-key-train" }, ["train loss"]), h("span", { class: "wb-key wb-key-eval" }, ["held-out loss"]),
  ]);
  const stats = h("dl", { class: "wb-stats" });
  const message = h("div", { class: "wb-message" });
  const error = h("pre", { class: "wb-error" });
  const summary = h("div", { class: "wb-summary" });
  root.append(h("div", { class: "wb-head" }, [title, status, start, stop]), progress, svg, legend, stats, message, error, summary);

  function renderHead() {
    const st = model.get("status");
    title.textContent = model.get("run_name") || model.get("config_name") || "fine-tuning";
    status.textContent = st;
    status.dataset.status = st;
    start.disabled = ACTIVE.includes(st) || !model.get("config_name");
    stop.disabled = !(st === "running" || st === "starting");
    const total = model.get("total_steps");
    progress.max = Math.max(total, 1);
    progress.value = model.get("step");
  }

  function renderStats() {
    const rows = [
      ["step", `${model.get("step")} / ${model.get("total_steps") || "–"}`],
      ["tokens/s", (model.get("tokens_per_s") || 0).toFixed(1)],
      ["step time", `${((model.get("step_time_s") || 0) * 1000).toFixed(0)} ms`],
      ["memory", formatBytes(model.get("memory_bytes"))],
      ["peak", formatBytes(model.get("peak_memory_bytes"))],
      ["elapsed", formatSeconds(model.get("elapsed_s"))],
      ["ETA", formatEta(model.get("eta_s"), model.get("step"), model.get("total_steps"), model.get("status"))],
    ];
    const kind = model.get("memory_kind");
    const titles = { memory: kind && `now: ${kind}`, peak: kind && `peak so far: ${kind}`,
      ETA: "the steps left times the average time of the recent steps (scoring and saving come after)" };
    stats.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", { title: titles[k] || null }, [k]), h("dd", { "data-stat": k }, [v])]));
  }

  function renderChart() { drawChart(svg, model.get("train_loss") || [], model.get("eval_loss") || [], model.get("total_steps")); }

  function renderText() {
    message.textContent = model.get("message") || "";
    error.textContent = model.get("error") || "";
  }

  function renderSummary() {
    const sm = model.get("summary") || {};
    if (!sm.status) { summary.replaceChildren(); return; }
    const fmt = (v) => (typeof v === "number" ? v.toFixed(3) : v ?? "–");
    const rows = [["perplexity", sm.perplexity_before, sm.perplexity_after]];
    const keys = new Set([...Object.keys(sm.scores_before || {}), ...Object.keys(sm.scores_after || {})]);
    for (const k of keys) rows.push([k, (sm.scores_before || {})[k], (sm.scores_after || {})[k]]);
    const scored = rows.some(([, b, a]) => b != null || a != null);  // no held-out evaluation: no empty table
    summary.replaceChildren(
      !scored ? h("span") : h("table", { class: "wb-eval-table" }, [
        h("tr", {}, [h("th", {}, ["held-out"]), h("th", {}, ["before"]), h("th", {}, ["after"])]),
        ...rows.map(([k, b, a]) => h("tr", {}, [h("td", {}, [k]), h("td", {}, [String(fmt(b))]), h("td", {}, [String(fmt(a))])])),
      ]),
      memoryTable(sm.memory || []),
      h("div", { class: "wb-paths" }, [
        sm.adapter ? `adapter: ${sm.adapter}` : `last checkpoint: ${sm.last_checkpoint || "–"}`,
      ]),
    );
  }

  renderHead(); renderStats(); renderChart(); renderText(); renderSummary();
  const on = (names, fn) => { for (const n of names) model.on(`change:${n}`, fn); };
  on(["run_name", "config_name", "status", "step", "total_steps"], renderHead);
  on(["step", "total_steps", "status", "tokens_per_s", "step_time_s", "memory_bytes", "peak_memory_bytes",
    "memory_kind", "eta_s", "elapsed_s"], renderStats);
  on(["train_loss", "eval_loss", "total_steps"], renderChart);
  on(["message", "error"], renderText);
  on(["summary"], renderSummary);
  return () => root.remove();
}

export default { render };
