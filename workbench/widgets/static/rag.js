// RAG wiring view (anywidget ESM, no build step).
// State lives in the Python traits listed in FIELDS; this view only renders them, writes form edits back with
// model.set/save_changes, and sends actions: {action: "build" | "search" | "ask" | "evaluate"}.
// Highlight offsets are computed in Python (workbench.rag.text.highlight_spans), so the view does no matching.

/**
 * @typedef {{rank: number, source: string, chunk_id: number, score: number, dense_score: number | null,
 *            bm25_score: number | null, text: string, highlights: number[][], headers: string[]}} HitRow
 * @typedef {{corpora: {label: string, path: string, questions?: string}[], corpus: string, splitter: string,
 *            chunk_size: number, chunk_overlap: number, mode: string, fusion: string, k: number,
 *            dense_weight: number, bm25_weight: number, question: string, model: string, max_new_tokens: number,
 *            questions_file: string, status: string, error: string, index_info: Record<string, any>,
 *            hits: HitRow[], prompt: string, answer: string, citations: string[],
 *            sources: Record<string, any>[], eval_rows: Record<string, any>[]}} RagState
 */

/** The synced trait names; tests/rag/test_rag_widget.py checks them against the Python class. */
export const FIELDS = [
  "corpora", "corpus", "splitter", "chunk_size", "chunk_overlap", "mode", "fusion", "k", "dense_weight",
  "bm25_weight", "question", "model", "max_new_tokens", "questions_file", "status", "error", "index_info", "hits",
  "prompt", "answer", "citations", "sources", "eval_rows",
];

/** Text with [start, end) spans wrapped in <mark>, built from text nodes (no HTML injection). */
function highlighted(text, spans) {
  const out = h("div", { class: "wb-hit-text" });
  let last = 0;
  for (const [start, end] of spans || []) {
    if (start < last) continue;
    out.append(document.createTextNode(text.slice(last, start)), h("mark", {}, [text.slice(start, end)]));
    last = end;
  }
  out.append(document.createTextNode(text.slice(last)));
  return out;
}

/** @param {{model: import("@anywidget/types").AnyModel<RagState>, el: HTMLElement}} props */
function render({ model, el }) {
  const root = h("div", { class: "wb-rag" });
  el.append(root);
  const set = (name, value) => { model.set(name, value); model.save_changes(); };
  // Retrieval actions carry the question typed in the box, so they never depend on the trait update arriving first.
  const typed = () => root.querySelector(".wb-question")?.value;
  const send = (action) => model.send(["search", "ask"].includes(action) ? { action, question: typed() } : { action });
  const row = (label, ...inputs) => h("label", { class: "wb-row" }, [h("span", {}, [label]), ...inputs]);
  const select = (name, options) => h("select", { class: `wb-${name}`, onchange: (e) => set(name, e.target.value) },
    options.map(([value, label]) => h("option", { value }, [label])));
  const num = (name, attrs) => h("input", { type: "number", class: `wb-${name}`, ...attrs,
    onchange: (e) => set(name, Number(e.target.value)) });

  // --- controls -----------------------------------------------------------------------------------------
  const corpusSel = h("select", { class: "wb-corpus", onchange: (e) => set("corpus", e.target.value) });
  const splitter = select("splitter", [["markdown", "markdown (headings first)"], ["recursive", "recursive"]]);
  const chunkSize = num("chunk_size", { min: 50, step: 50 });
  const chunkOverlap = num("chunk_overlap", { min: 0, step: 10 });
  const mode = select("mode", [["hybrid", "hybrid"], ["dense", "dense (MiniLM)"], ["bm25", "BM25"]]);
  const fusion = select("fusion", [["weighted", "weighted scores"], ["rrf", "reciprocal rank fusion"]]);
  const k = num("k", { min: 1, max: 50, step: 1 });
  const slider = (name) => {
    const value = h("span", { class: "wb-weight-value" });
    const input = h("input", { type: "range", min: 0, max: 1, step: 0.05, class: `wb-${name}`,
      oninput: (e) => { value.textContent = Number(e.target.value).toFixed(2); },
      onchange: (e) => set(name, Number(e.target.value)) });
    return { input, value };
  };
  const dense = slider("dense_weight");
  const bm25 = slider("bm25_weight");
  const question = h("input", { type: "text", class: "wb-question", placeholder: "Ask a question about the corpus",
    onchange: (e) => set("question", e.target.value),
    onkeydown: (e) => { if (e.key === "Enter") { set("question", e.target.value); send("search"); } } });
  const modelName = h("input", { type: "text", class: "wb-model", onchange: (e) => set("model", e.target.value) });
  const maxTokens = num("max_new_tokens", { min: 1, max: 2048, step: 1 });
  const questionsFile = h("input", { type: "text", class: "wb-questions-file", placeholder: "questions.jsonl",
    onchange: (e) => set("questions_file", e.target.value) });

  const buttons = h("div", { class: "wb-actions" }, [
    h("button", { class: "wb-build", onclick: () => send("build") }, ["Build index"]),
    h("button", { class: "wb-search", onclick: () => send("search") }, ["Retrieve"]),
    h("button", { class: "wb-ask", onclick: () => send("ask") }, ["Ask (retrieve + generate)"]),
    h("button", { class: "wb-evaluate", onclick: () => send("evaluate") }, ["Run evaluation"]),
  ]);

  const status = h("div", { class: "wb-status" });
  const errorBox = h("pre", { class: "wb-error" });
  const info = h("div", { class: "wb-index-info" });
  const hits = h("ol", { class: "wb-hits" });
  const answer = h("div", { class: "wb-answer" });
  const prompt = h("pre", { class: "wb-prompt" });
  const evalTable = h("table", { class: "wb-eval" });

  root.append(
    h("div", { class: "wb-controls" }, [
      row("Corpus", corpusSel),
      h("div", { class: "wb-params" }, [row("splitter", splitter), row("chunk size", chunkSize),
        row("overlap", chunkOverlap)]),
      h("div", { class: "wb-params" }, [row("mode", mode), row("fusion", fusion), row("k", k),
        row("dense weight", dense.input, dense.value), row("BM25 weight", bm25.input, bm25.value)]),
      row("Question", question),
      h("div", { class: "wb-params" }, [row("model", modelName), row("max tokens", maxTokens),
        row("questions", questionsFile)]),
      buttons,
    ]),
    status, errorBox, info,
    h("h4", {}, ["Retrieved chunks"]), hits,
    h("h4", {}, ["Answer"]), answer,
    h("details", { class: "wb-prompt-box" }, [h("summary", {}, ["Final prompt"]), prompt]),
    h("h4", {}, ["Evaluation"]), evalTable,
  );

  // --- rendering from state -----------------------------------------------------------------------------
  function renderControls() {
    corpusSel.replaceChildren(...(model.get("corpora") || []).map((c) => h("option", { value: c.path }, [c.label])));
    corpusSel.value = model.get("corpus");
    splitter.value = model.get("splitter");
    chunkSize.value = model.get("chunk_size");
    chunkOverlap.value = model.get("chunk_overlap");
    mode.value = model.get("mode");
    fusion.value = model.get("fusion");
    fusion.disabled = model.get("mode") !== "hybrid";
    k.value = model.get("k");
    for (const [s, name] of [[dense, "dense_weight"], [bm25, "bm25_weight"]]) {
      s.input.value = model.get(name);
      s.value.textContent = Number(model.get(name)).toFixed(2);
      s.input.disabled = model.get("mode") !== "hybrid";
    }
    if (document.activeElement !== question) question.value = model.get("question");
    modelName.value = model.get("model");
    maxTokens.value = model.get("max_new_tokens");
    questionsFile.value = model.get("questions_file");
  }

  function renderStatus() {
    const s = model.get("status");
    status.textContent = s === "idle" ? "" : s;
    status.dataset.status = s;
    errorBox.textContent = model.get("error") || "";
    root.querySelectorAll(".wb-actions button").forEach((b) => { b.disabled = ["building", "searching", "generating", "evaluating"].includes(s); });
    const i = model.get("index_info") || {};
    info.textContent = i.chunks === undefined ? "" :
      `${i.documents} documents, ${i.chunks} chunks (${i.chunking.splitter} ${i.chunking.chunk_size}/${i.chunking.chunk_overlap}), ` +
      `embedder ${i.embedder.name}` + ((i.skipped || []).length ? `, ${i.skipped.length} skipped` : "");
  }

  // A retrieved chunk is cited when the answer cites its number; several chunks of one page are told apart.
  function citedChunk() {
    const sources = model.get("sources") || [];
    if (sources.length && sources.every((s) => typeof s.cited === "boolean")) {
      const keys = new Set(sources.filter((s) => s.cited).map((s) => `${s.source}#${s.chunk_id}`));
      return (source, chunkId) => keys.has(`${source}#${chunkId}`);
    }
    const pages = new Set(model.get("citations") || []);  // older state: page ids only
    return (source) => pages.has(source);
  }

  function renderHits() {
    const isCited = citedChunk();
    hits.replaceChildren(...(model.get("hits") || []).map((hit) => h("li", { class: isCited(hit.source, hit.chunk_id) ? "wb-hit wb-cited" : "wb-hit" }, [
      h("div", { class: "wb-hit-head" }, [
        h("span", { class: "wb-hit-source" }, [hit.source]),
        h("span", { class: "wb-hit-score" }, [`score ${fmt(hit.score, 4)} · dense ${fmt(hit.dense_score)} · BM25 ${fmt(hit.bm25_score, 2)}`]),
      ]),
      (hit.headers || []).length ? h("div", { class: "wb-hit-headers" }, [hit.headers.join(" › ")]) : "",
      highlighted(hit.text, hit.highlights),
    ])));
  }

  function renderAnswer() {
    prompt.textContent = model.get("prompt") || "";
    const sources = model.get("sources") || [];
    const isCited = citedChunk();
    answer.replaceChildren(
      h("p", { class: "wb-answer-text" }, [model.get("answer") || ""]),
      h("ol", { class: "wb-answer-sources" }, sources.map((s) => {
        const cited = isCited(s.source, s.chunk_id);
        return h("li", { class: cited ? "wb-cited" : "" }, [`[${s.n}] ${s.source}` + (cited ? " (cited)" : "")]);
      })),
    );
  }

  function renderEval() {
    const rows = model.get("eval_rows") || [];
    if (!rows.length) { evalTable.replaceChildren(); return; }
    const head = ["configuration", "recall@k", "MRR@10", "nDCG@10", "queries/s", "chunks"];
    const best = Math.max(...rows.map((r) => r["ndcg@10"]));
    evalTable.replaceChildren(
      h("thead", {}, [h("tr", {}, head.map((c) => h("th", {}, [c])))]),
      h("tbody", {}, rows.map((r) => h("tr", { class: r["ndcg@10"] === best ? "wb-best" : "" }, [
        h("td", {}, [r.name]), h("td", {}, [fmt(r.recall)]), h("td", {}, [fmt(r["mrr@10"])]),
        h("td", {}, [fmt(r["ndcg@10"])]), h("td", {}, [fmt(r.queries_per_s, 1)]), h("td", {}, [fmt(r.chunks)]),
      ]))),
    );
  }

  const all = () => { renderControls(); renderStatus(); renderHits(); renderAnswer(); renderEval(); };
  all();
  for (const name of FIELDS) model.on(`change:${name}`, all);
  return () => { for (const name of FIELDS) model.off(`change:${name}`, all); };
}

export default { render };
