// Review-queue view (anywidget ESM, no build step).
// State lives in the Python traits listed in FIELDS; this view renders them and sends actions:
// {action: "accept", id, comment} | {action: "override", id, score, comment} | {action: "goto", index} |
// {action: "refresh"}. All logic (queue, agreement, telemetry) runs in Python (workbench.rubrics).

/** The synced trait names; tests/rubrics/test_widget.py checks them against the Python class. */
export const FIELDS = ["rubric", "items", "index", "current", "counts", "agreement", "status", "error", "last"];

function fmtScore(value) {
  if (value === null || value === undefined) return "n/a";
  return typeof value === "number" ? value.toFixed(2) : String(value);
}

function render({ model, el }) {
  const root = h("div", { class: "wb-review" });
  el.append(root);

  function draw() {
    root.replaceChildren();
    const items = model.get("items") || [];
    const index = model.get("index") || 0;
    const current = model.get("current");
    const counts = model.get("counts") || {};
    root.append(
      h("div", { class: "wb-review-head" }, [
        h("strong", {}, ["Review queue"]),
        h("span", { class: "wb-review-counts" }, [
          ` ${counts.pending ?? 0} pending · ${counts.accepted ?? 0} accepted · ${counts.overridden ?? 0} overridden`,
        ]),
        h("button", { class: "wb-review-refresh", onclick: () => model.send({ action: "refresh" }) }, ["Refresh"]),
      ]),
    );
    const error = model.get("error");
    if (error) root.append(h("div", { class: "wb-review-error", role: "alert" }, [error]));
    if (!current) {
      root.append(h("p", { class: "wb-review-empty" }, [model.get("status") || "Nothing to review."]));
    } else {
      root.append(card(current, index, items.length));
    }
    root.append(agreementTable(model.get("agreement") || []));
  }

  function card(cur, index, total) {
    const fields = h("dl", { class: "wb-review-fields" });
    for (const f of cur.fields || []) {
      fields.append(h("dt", {}, [f.name]), h("dd", {}, [h("pre", {}, [String(f.value)])]));
    }
    const levels = h("div", { class: "wb-review-levels", role: "radiogroup" });
    for (const level of cur.levels || []) {
      const id = `wb-review-${cur.id}-${level.score}`;
      levels.append(
        h("label", { for: id, class: level.score === cur.ai_score ? "wb-review-ai" : "" }, [
          h("input", { type: "radio", name: `wb-review-${cur.id}`, id, value: level.score,
                       checked: level.score === cur.ai_score }),
          ` ${level.score}: ${level.descriptor}`,
        ]),
      );
    }
    const comment = h("textarea", { class: "wb-review-comment", rows: 2, placeholder: "Comment (required to override)" });
    const chosen = () => {
      const picked = levels.querySelector("input:checked");
      return picked ? Number(picked.value) : null;
    };
    const nav = (delta) => {
      const next = Math.max(0, Math.min(total - 1, index + delta));
      model.set("index", next);
      model.save_changes();
    };
    return h("div", { class: "wb-review-card" }, [
      h("div", { class: "wb-review-meta" }, [
        `${index + 1} / ${total} · ${cur.rubric} v${cur.rubric_version} · criterion `,
        h("code", {}, [cur.criterion]),
        ` · item ${cur.item_id} · ${cur.subject} · sent because ${cur.reason.replace(/_/g, " ")}`,
      ]),
      h("p", { class: "wb-review-criterion" }, [cur.criterion_description]),
      fields,
      h("div", { class: "wb-review-ai-verdict" }, [
        h("strong", {}, [`AI score ${cur.ai_score} / ${cur.max_score}`]),
        ` (confidence ${fmtScore(cur.confidence)}): `,
        h("em", {}, [cur.ai_rationale]),
      ]),
      levels,
      comment,
      h("div", { class: "wb-review-actions" }, [
        h("button", { onclick: () => nav(-1), disabled: index <= 0 }, ["◀ Prev"]),
        h("button", { class: "wb-review-accept",
                      onclick: () => model.send({ action: "accept", id: cur.id, comment: comment.value }) },
          ["Accept AI score"]),
        h("button", { class: "wb-review-override",
                      onclick: () => model.send({ action: "override", id: cur.id, score: chosen(), comment: comment.value }) },
          ["Override"]),
        h("button", { onclick: () => nav(1), disabled: index >= total - 1 }, ["Next ▶"]),
      ]),
    ]);
  }

  function agreementTable(rows) {
    if (!rows.length) return h("p", { class: "wb-review-agreement-empty" }, ["No reviewed verdicts yet."]);
    const body = rows.map((r) =>
      h("tr", {}, [
        h("td", {}, [r.rubric]), h("td", {}, [r.criterion ?? "(all)"]), h("td", {}, [String(r.n)]),
        h("td", {}, [fmtScore(r.exact)]), h("td", {}, [fmtScore(r.kappa_quadratic)]), h("td", {}, [fmtScore(r.kappa_linear)]),
      ]),
    );
    return h("table", { class: "wb-review-agreement" }, [
      h("caption", {}, ["AI-human agreement"]),
      h("thead", {}, [h("tr", {}, ["rubric", "criterion", "n", "exact", "κ quadratic", "κ linear"].map((t) => h("th", {}, [t])))]),
      h("tbody", {}, body),
    ]);
  }

  for (const name of FIELDS) model.on(`change:${name}`, draw);
  draw();
  return () => root.remove();
}

export default { render };
