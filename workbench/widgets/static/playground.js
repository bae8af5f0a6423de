// Prompt playground view (anywidget ESM, no build step).
// State lives in the Python traits listed in FIELDS; this view only renders them, writes form edits back
// with model.set/save_changes, and sends actions: {action: "run" | "compare" | "clear_history"}.

/**
 * @typedef {{name: string, type: string, description: string, default: any, required: boolean,
 *            choices: string[] | null, retrieved: boolean, multiline: boolean}} VariableSpec
 * @typedef {{id: string, version: number, ref: string, title: string, description: string,
 *            variables: VariableSpec[], system: string | null}} TemplateSpec
 * @typedef {{models: string[], model: string, bits: number | null, templates: TemplateSpec[], template: string,
 *            variables: Record<string, any>, system: string, prompt: string, temperature: number, top_p: number,
 *            max_new_tokens: number, seed: number | null, stream: boolean, status: string, output: string,
 *            error: string, last_run: Record<string, any>, history: Record<string, any>[],
 *            variants: Record<string, any>[], comparison: Record<string, any>[]}} PlaygroundState
 */

/** The synced trait names; tests/prompting/test_widget.py checks them against the Python class. */
export const FIELDS = [
  "models", "model", "bits", "templates", "template", "variables", "system", "prompt", "temperature", "top_p",
  "max_new_tokens", "seed", "stream", "status", "output", "error", "last_run", "history", "variants",
  "comparison",
];

function metricsLine(run) {
  if (!run || !run.id) return "";
  return `${fmt(run.input_tokens)} in · ${fmt(run.output_tokens)} out · latency ${fmt(run.latency_s)} s · ` +
    `TTFT ${fmt(run.ttft_s)} s · ${fmt(run.tokens_per_s, 1)} tok/s · cost ${fmt(run.cost, 6)}`;
}

/** @param {{model: import("@anywidget/types").AnyModel<PlaygroundState>, el: HTMLElement}} props */
function render({ model, el }) {
  const root = h("div", { class: "wb-playground" });
  el.append(root);

  const set = (name, value) => { model.set(name, value); model.save_changes(); };

  // --- controls -----------------------------------------------------------------------------------------
  const modelSel = h("select", { class: "wb-model", onchange: (e) => set("model", e.target.value) });
  const bitsSel = h("select", { class: "wb-bits", onchange: (e) => set("bits", e.target.value === "" ? null : Number(e.target.value)) });
  for (const [label, value] of [["auto", ""], ["4-bit", 4], ["8-bit", 8], ["16-bit", 16], ["32-bit", 32]]) {
    bitsSel.append(h("option", { value }, [label]));
  }
  const templateSel = h("select", { class: "wb-template", onchange: (e) => set("template", e.target.value) });
  const varsBox = h("div", { class: "wb-variables" });
  const systemBox = h("textarea", { class: "wb-system", rows: 3, placeholder: "System prompt",
    onchange: (e) => set("system", e.target.value) });
  const promptBox = h("textarea", { class: "wb-prompt", rows: 4, placeholder: "Prompt",
    onchange: (e) => set("prompt", e.target.value) });
  const num = (name, attrs) => h("input", { type: "number", class: `wb-${name}`, ...attrs,
    onchange: (e) => set(name, e.target.value === "" ? null : Number(e.target.value)) });
  const temperature = num("temperature", { min: 0, max: 2, step: 0.1 });
  const topP = num("top_p", { min: 0.01, max: 1, step: 0.05 });
  const maxTokens = num("max_new_tokens", { min: 1, max: 4096, step: 1 });
  const seed = num("seed", { step: 1, placeholder: "none" });
  const streamBox = h("input", { type: "checkbox", class: "wb-stream", onchange: (e) => set("stream", e.target.checked) });

  const runBtn = h("button", { class: "wb-run", onclick: () => model.send({ action: "run" }) }, ["Run"]);
  // The Compare box's lines go to the kernel as typed; Variant.parse reads them (one parser, in Python).
  const compareBtn = h("button", { class: "wb-compare",
    onclick: () => model.send({ action: "compare", lines: variantsBox.value.split("\n") }) }, ["Compare"]);
  const clearBtn = h("button", { class: "wb-clear", onclick: () => model.send({ action: "clear_history" }) }, ["Clear history"]);
  const variantsBox = h("textarea", { class: "wb-variants", rows: 3,
    placeholder: "2 to 4 variants, one per line (Enter for a new line), e.g.\ntemperature=0.2 seed=1\n"
      + "temperature=1.2 seed=1 system=Answer in one sentence.\n(also: summarise@2, model=NAME, bits=8, max_new_tokens=64, label=NAME)" });

  const status = h("div", { class: "wb-status" });
  const errorBox = h("pre", { class: "wb-error" });
  const output = h("pre", { class: "wb-output" });
  const metrics = h("div", { class: "wb-metrics" });
  const comparison = h("div", { class: "wb-comparison" });
  const history = h("ol", { class: "wb-history", reversed: true });

  const row = (label, ...inputs) => h("label", { class: "wb-row" }, [h("span", {}, [label]), ...inputs]);
  root.append(
    h("div", { class: "wb-controls" }, [
      row("Model", modelSel, bitsSel),
      row("Template", templateSel),
      varsBox,
      row("System", systemBox),
      row("Prompt", promptBox),
      h("div", { class: "wb-params" }, [row("temperature", temperature), row("top_p", topP),
        row("max tokens", maxTokens), row("seed", seed), row("stream", streamBox)]),
      h("div", { class: "wb-actions" }, [runBtn, compareBtn, clearBtn]),
      row("Compare", variantsBox),
    ]),
    status, errorBox, output, metrics, comparison,
    h("details", { class: "wb-history-box" }, [h("summary", {}, ["History"]), history]),
  );

  // --- rendering from state -----------------------------------------------------------------------------
  /** A variant as a line of the Compare box, in the syntax Variant.parse reads back (system= last). */
  function variantLine(v) {
    const words = [v.template || "", v.model ? `model=${v.model}` : "", v.bits ? `bits=${v.bits}` : "",
      ...Object.entries(v.params || {}).map(([k, x]) => `${k}=${x}`), v.label ? `label=${v.label}` : "",
      v.system !== null && v.system !== undefined ? `system=${v.system}` : ""];
    return words.filter(Boolean).join(" ");
  }

  function currentTemplate() {
    const ref = model.get("template");
    const specs = model.get("templates") || [];
    return specs.find((t) => t.ref === ref) || specs.filter((t) => t.id === ref).sort((a, b) => b.version - a.version)[0];
  }

  function renderOptions() {
    modelSel.replaceChildren(...(model.get("models") || []).map((m) => h("option", { value: m }, [m])));
    modelSel.value = model.get("model");
    templateSel.replaceChildren(h("option", { value: "" }, ["(free prompt)"]),
      ...(model.get("templates") || []).map((t) => h("option", { value: t.ref }, [`${t.ref} – ${t.title}`])));
    const tpl = currentTemplate();
    templateSel.value = tpl ? tpl.ref : "";
    bitsSel.value = model.get("bits") === null ? "" : String(model.get("bits"));
  }

  function renderVariables() {
    const tpl = currentTemplate();
    promptBox.closest(".wb-row").style.display = tpl ? "none" : "";
    if (!tpl) { varsBox.replaceChildren(); return; }
    const values = model.get("variables") || {};
    const inputs = tpl.variables.map((v) => {
      const current = values[v.name] ?? v.default ?? "";
      let input;
      const write = (value) => set("variables", { ...model.get("variables"), [v.name]: value });
      if (v.type === "choice") {
        input = h("select", { onchange: (e) => write(e.target.value) }, v.choices.map((c) => h("option", { value: c }, [c])));
        input.value = current;
      } else if (v.type === "bool") {
        input = h("input", { type: "checkbox", onchange: (e) => write(e.target.checked) });
        input.checked = Boolean(current);
      } else if (v.type === "int" || v.type === "float") {
        input = h("input", { type: "number", step: v.type === "int" ? 1 : "any", onchange: (e) => write(Number(e.target.value)) });
        input.value = current;
      } else if (v.type === "list") {
        input = h("textarea", { rows: 3, placeholder: "one item per line",
          onchange: (e) => write(e.target.value.split("\n").filter((s) => s.trim())) });
        input.value = Array.isArray(current) ? current.join("\n") : current;
      } else {
        input = h(v.multiline ? "textarea" : "input", { rows: 4, onchange: (e) => write(e.target.value) });
        input.value = current;
      }
      input.dataset.variable = v.name;
      return row(`${v.name}${v.required ? " *" : ""}`, input, h("small", {}, [v.description || ""]));
    });
    varsBox.replaceChildren(...inputs);
  }

  function renderScalars() {
    systemBox.value = model.get("system");
    promptBox.value = model.get("prompt");
    temperature.value = model.get("temperature");
    topP.value = model.get("top_p");
    maxTokens.value = model.get("max_new_tokens");
    seed.value = model.get("seed") ?? "";
    streamBox.checked = model.get("stream");
  }

  // Only a change of the variants themselves rewrites the box, so typing there survives other settings' changes.
  function renderVariants() {
    variantsBox.value = (model.get("variants") || []).map(variantLine).join("\n");
  }

  function renderStatus() {
    const s = model.get("status");
    status.textContent = s;
    status.dataset.status = s;
    root.dataset.status = s;
    runBtn.disabled = compareBtn.disabled = s === "running";
    errorBox.textContent = model.get("error");
    errorBox.style.display = model.get("error") ? "" : "none";
  }

  function renderOutput() {
    output.textContent = model.get("output");
    metrics.textContent = metricsLine(model.get("last_run"));
  }

  function renderComparison() {
    const rows = model.get("comparison") || [];
    comparison.style.setProperty("--wb-columns", String(Math.max(rows.length, 1)));
    comparison.replaceChildren(...rows.map((r, i) => h("div", { class: "wb-variant", "data-index": i, "data-status": r.status }, [
      h("div", { class: "wb-variant-label" }, [r.label || `variant ${i + 1}`]),
      h("pre", { class: "wb-variant-text" }, [r.error ? `error: ${r.error}` : (r.text || "")]),
      h("div", { class: "wb-variant-metrics" }, [metricsLine(r)]),
    ])));
  }

  function renderHistory() {
    const items = [...(model.get("history") || [])].reverse();
    history.replaceChildren(...items.map((r) => h("li", { class: "wb-history-item" }, [
      h("strong", {}, [`${r.label || r.template || "prompt"} · ${r.model}`]), " ",
      h("span", {}, [metricsLine(r)]),
      h("pre", {}, [r.text || ""]),
    ])));
  }

  renderOptions(); renderVariables(); renderScalars(); renderVariants(); renderStatus(); renderOutput(); renderComparison();
  renderHistory();
  const on = (names, fn) => { for (const n of names) model.on(`change:${n}`, fn); };
  on(["models", "model", "templates", "template", "bits"], () => { renderOptions(); renderVariables(); });
  on(["variables"], renderVariables);
  on(["system", "prompt", "temperature", "top_p", "max_new_tokens", "seed", "stream"], renderScalars);
  on(["variants"], renderVariants);
  on(["status", "error"], renderStatus);
  on(["output", "last_run"], renderOutput);
  on(["comparison"], renderComparison);
  on(["history"], renderHistory);
  return () => root.remove();
}

export default { render };
