// Copilot view (anywidget ESM, no build step): pick a spec, chat with it, see its last evaluation and its stage.
// State lives in the Python traits listed in FIELDS; this view renders them and sends actions:
// {action: "open", spec} | {action: "ask", question} | {action: "evaluate"} | {action: "clear"}.
// Keys typed in the question box stay in the widget (JupyterLab would otherwise take Enter and shortcuts):
// Enter sends, Shift+Enter starts a new line.

/** The synced trait names; tests/widgets/test_widgets_copilot.py checks them against the Python class. */
export const FIELDS = ["specs", "spec", "overview", "messages", "reply", "status", "error"];

/** @param {{model: any, el: HTMLElement}} props */
function render({ model, el }) {
  const root = h("div", { class: "wb-copilot" });
  el.append(root);
  const picker = h("select", { class: "wb-spec", onchange: (e) => model.send({ action: "open", spec: e.target.value }) });
  const status = h("div", { class: "wb-status" });
  const errorBox = h("pre", { class: "wb-error" });
  const card = h("div", { class: "wb-card" });
  const evaluation = h("div", { class: "wb-evaluation" });
  const chat = h("div", { class: "wb-chat" });
  const box = h("textarea", { class: "wb-question", rows: 2, placeholder: "Ask the copilot… (Enter sends, Shift+Enter for a new line)" });
  const ask = () => {
    const question = box.value.trim();
    if (!question) return;
    model.send({ action: "ask", question });
    box.value = "";
  };
  box.addEventListener("keydown", (e) => {
    e.stopPropagation(); // the key belongs to the text box, not to JupyterLab's notebook shortcuts
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); ask(); }
  });
  const askButton = h("button", { class: "wb-ask", onclick: ask }, ["Ask"]);
  const evalButton = h("button", { class: "wb-evaluate", onclick: () => model.send({ action: "evaluate" }) }, ["Evaluate"]);
  const clearButton = h("button", { class: "wb-clear", onclick: () => model.send({ action: "clear" }) }, ["New chat"]);
  root.append(
    h("label", { class: "wb-row" }, [h("span", {}, ["Copilot"]), picker]),
    card, evaluation, status, errorBox, chat,
    h("div", { class: "wb-compose" }, [box, h("div", { class: "wb-actions" }, [askButton, clearButton, evalButton])]),
  );

  function renderPicker() {
    const specs = model.get("specs") || [];
    picker.replaceChildren(...(specs.length ? specs : [{ label: "no copilot.yaml found", path: "" }])
      .map((s) => h("option", { value: s.path, title: s.path }, [s.label])));
    picker.value = model.get("spec") || "";
  }

  function renderCard() {
    const o = model.get("overview") || {};
    const spec = o.spec || {};
    if (!spec.id) { card.replaceChildren(h("em", {}, ["Pick a copilot spec (workbench copilot new writes one)."])); return; }
    const m = spec.model || {};
    const r = spec.retrieval;
    const stage = o.stage ? o.stage.toUpperCase() : "not promoted";
    card.replaceChildren(
      h("div", { class: "wb-card-head" }, [
        h("strong", {}, [`${spec.id}@${spec.version}`]), " ", spec.title || "",
        h("span", { class: `wb-stage wb-stage-${o.stage || "none"}` }, [stage]),
      ]),
      h("div", { class: "wb-card-line" }, [`model ${m.name}` + (m.adapter ? ` + adapter ${String(m.adapter).split("/").pop()}` : "")
        + (m.bits ? ` (${m.bits}-bit)` : "") + (r ? ` · retrieval ${r.mode}, k=${fmt(r.k)}` : " · no retrieval")]),
      h("div", { class: "wb-card-line" }, [`GA ${fmt(o.ga)} · canary ${fmt(o.canary)} · rollback to ${fmt(o.previous_ga)}`
        + ` · versions ${(o.registered || []).join(", ") || "none registered"}`]),
    );
  }

  function renderEvaluation() {
    const last = (model.get("overview") || {}).last_evaluation;
    if (!last) { evaluation.replaceChildren(h("em", {}, ["Not evaluated yet: Evaluate runs its suite and checks its gates."])); return; }
    const rows = (last.gates || []).map((g) => h("tr", { class: g.passed ? "wb-pass" : "wb-fail" }, [
      h("td", {}, [g.passed ? "✓" : "✗"]), h("td", {}, [g.name]),
      h("td", {}, [g.value === null || g.value === undefined ? "n/a" : fmt(g.value)]),
      h("td", {}, [`${g.kind === "min" ? "needs ≥" : "needs ≤"} ${fmt(g.limit)}`]),
    ]));
    evaluation.replaceChildren(
      h("div", {}, [h("strong", {}, [last.passed ? "Last evaluation passed" : "Last evaluation FAILED"]),
        ` (${String(last.created_at || "").slice(0, 16).replace("T", " ")})`]),
      h("table", { class: "wb-gates" }, rows),
    );
  }

  function renderChat() {
    const messages = model.get("messages") || [];
    const items = messages.map((m) => h("div", { class: `wb-msg wb-${m.role}` }, [
      h("div", { class: "wb-msg-text" }, [m.content]),
      m.role === "assistant" ? h("div", { class: "wb-msg-meta" }, [
        (m.sources && m.sources.length ? `sources ${m.sources.map((s) => `[${s}]`).join(" ")} · ` : "")
        + `${fmt(m.output_tokens)} tokens in ${fmt(m.latency_s, 2)} s` + (m.status && m.status !== "ok" ? ` · ${m.status}` : ""),
      ]) : "",
    ]));
    const reply = model.get("reply");
    if (reply) items.push(h("div", { class: "wb-msg wb-assistant wb-streaming" }, [h("div", { class: "wb-msg-text" }, [reply])]));
    chat.replaceChildren(...items);
    chat.scrollTop = chat.scrollHeight;
  }

  function renderStatus() {
    const s = model.get("status");
    const busy = ["opening", "answering", "evaluating"].includes(s);
    status.textContent = s === "idle" || s === "ready" ? "" : `${s}…`.replace("error…", "error");
    status.dataset.status = s;
    errorBox.textContent = model.get("error") || "";
    for (const b of [askButton, evalButton, clearButton]) b.disabled = busy;
    picker.disabled = busy;
  }

  const all = () => { renderPicker(); renderCard(); renderEvaluation(); renderChat(); renderStatus(); };
  all();
  const handlers = {
    "change:specs": renderPicker, "change:spec": renderPicker, "change:overview": () => { renderCard(); renderEvaluation(); },
    "change:messages": renderChat, "change:reply": renderChat, "change:status": renderStatus, "change:error": renderStatus,
  };
  for (const [event, fn] of Object.entries(handlers)) model.on(event, fn);
  return () => { for (const [event, fn] of Object.entries(handlers)) model.off(event, fn); };
}

export default { render };
