"""``workbench copilot new``: scaffold a copilot that validates, evaluates and serves as it is.

The scaffold is a working example of the spec: ``copilot.yaml`` with every section commented, a versioned
prompt template beside it (``prompt.yaml``), a deterministic rubric (``rubric.yaml``: no judge model needed)
and an evaluation suite of IT-helpdesk questions with reference answers (``eval/questions.jsonl``). With an
index folder, the copilot retrieves and answers with citations through the built-in ``answer-with-citations@1``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from workbench.copilots.spec import SPEC_NAME, CopilotSpec, check_references, load_spec
from workbench.errors import ValidationError

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

#: The scaffold's evaluation suite: IT-helpdesk questions with reference answers.
SAMPLE_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("How do I reset my password?", "Open the self-service portal, choose Forgot password and follow the link."),
    ("My VPN keeps disconnecting.", "Restart the VPN client, check that you are online and sign in again."),
    ("How do I add a printer?", "Open Settings, choose Printers and add the printer by its floor name."),
    ("I lost my phone with the authenticator app.", "Call the help desk to reset your second factor."),
    ("How do I submit an expense?", "Submit expenses in the finance portal with a photo of the receipt."),
    ("How do I book a meeting room?", "Book rooms in the calendar by adding the room as a guest."),
    ("I think I clicked a phishing link.", "Use the Report phishing button and change your password."),
    ("How do I request access to an application?", "Request access in the service portal; your manager approves."),
)

_SPEC = """\
# A Workbench copilot. Validate with `workbench copilot validate {folder}`, evaluate with
# `workbench copilot eval {folder}`, serve with `workbench copilot serve {folder}`.
id: {id}
version: 1                      # bump it for every change: a registered version is immutable
title: {title}
description: Answers employees' IT questions briefly.

model:
  name: {model}                 # a model name (see `workbench doctor`) or a model folder
  adapter: {adapter}                 # a LoRA adapter folder from `workbench tune run`
  bits: null                    # 4 or 8 to load it quantized

prompt:
  template: {template}          # id@version, or a template YAML file
  parameters: {{max_new_tokens: 64, temperature: 0}}
{retrieval}
guardrails:
  policy: null                  # a policy YAML (see `workbench guard policy`); null = the built-in default

evaluation:
  questions: eval/questions.jsonl   # {{"question", "reference", "relevant"?: [source ids]}} per line
  rubric: rubric.yaml
  thresholds: {thresholds}   # gates `copilot promote` enforces

slo:
  p95_latency_s: {p95_latency_s}
  cost_per_1k_tokens: {cost_per_1k_tokens}
  guardrail_violation_rate: {guardrail_violation_rate}

serving:
  canary_share: 0.1             # share of requests sent to a canary version, when one is promoted
  max_batch_size: 16            # concurrent requests generated together
  max_wait_ms: 10               # how long a request waits for others to join its batch
  max_gather_ms: 2000           # ... and for requests the server already accepted and is still preparing
  cache: {{enabled: false, similarity: 0.95}}
"""

_RETRIEVAL = """
retrieval:
  index: {index}
  mode: hybrid                  # dense, bm25 or hybrid
  k: {k}
"""

_TEMPLATE = """\
# The copilot's prompt template: bump `version` when you change it (the spec pins id@version).
id: {id}-answer
version: 1
title: {title}
skill: copilot_building
variables:
  - {{name: question, type: str, description: The employee's question}}
system: You are the company help desk assistant. Answer briefly.
template: "{{{{ question }}}}"
parameters: {{temperature: 0.0, max_new_tokens: 64}}
"""

_RUBRIC = """\
# The copilot's evaluation rubric: deterministic criteria, so versions compare reproducibly.
# Items: {{"id", "question", "output", "reference", "sources"}}
id: {id}-answer
version: 1
title: {title} answer
pass_threshold: 0.6
total_weight: 1.0
criteria:
  - id: on-topic
    description: The answer shares words with the reference answer (token F1 of at least 0.2).
    weight: 0.5
    skill: copilot_building
    levels:
      - {{score: 0, descriptor: "Off topic (F1 < 0.2)."}}
      - {{score: 1, descriptor: "On topic."}}
    scorer: {{type: token_f1, field: output, reference_field: reference, thresholds: [0.2]}}
  - id: concise
    description: Short enough for a chat window (3 to 80 words).
    weight: 0.3
    skill: copilot_building
    levels:
      - {{score: 0, descriptor: "Under 3 or over 80 words."}}
      - {{score: 1, descriptor: "Between 3 and 80 words."}}
    scorer: {{type: length, field: output, unit: words, min: 3, max: 80}}
  - id: no-personal-data
    description: The answer contains no personal data.
    weight: 0.2
    skill: guardrails_governance
    required: true
    levels:
      - {{score: 0, descriptor: "Contains personal data."}}
      - {{score: 1, descriptor: "No personal data found."}}
    scorer: {{type: pii_free, field: output}}
"""


#: The scaffold's service-level objectives, unless ``new_copilot(slo=...)`` says otherwise.
DEFAULT_SLO = {"p95_latency_s": 10.0, "cost_per_1k_tokens": 0.0, "guardrail_violation_rate": 0.1}


def new_copilot(
    copilot_id: str,
    out: str | Path | None = None,
    *,
    title: str | None = None,
    model: str | None = None,
    index: str | Path | None = None,
    adapter: str | Path | None = None,
    k: int = 4,
    questions: Iterable[Mapping[str, Any]] | None = None,
    thresholds: Mapping[str, float] | None = None,
    slo: Mapping[str, float] | None = None,
) -> CopilotSpec:
    """Write a copilot folder (spec, template, rubric, questions) and return its checked spec.

    Args:
        copilot_id: Lower-case letters, digits, ``-`` or ``_``.
        out: The folder to create (default ``./<id>``); it must not exist or be empty.
        title: A human title (default from the id).
        model: The model name (default: ``workbench.models.default_model_name()``).
        index: A RAG index folder: the copilot retrieves ``k`` chunks and cites (``answer-with-citations@1``).
        adapter: A LoRA adapter folder (``workbench tune run``) loaded over ``model``.
        questions: The evaluation suite, ``{"question", "reference", "relevant"?}`` each (default: IT-helpdesk
            questions, :data:`SAMPLE_QUESTIONS`).
        thresholds: Release gates (``rubric_pass_rate``, ``retrieval_recall``, ``groundedness``).
        slo: Service-level objectives over :data:`DEFAULT_SLO` (``p95_latency_s``, ``cost_per_1k_tokens``,
            ``guardrail_violation_rate``).

    Raises:
        ValidationError: A bad id, a folder that already holds files, or a setting the spec rejects (named
            with its field; the folder is then removed again).
    """
    folder = _empty_folder(copilot_id, out)
    if model is None:
        from workbench.models import default_model_name

        model = default_model_name()
    title = title or copilot_id.replace("-", " ").replace("_", " ").capitalize()
    if thresholds is None:
        thresholds = {"rubric_pass_rate": 0.5, **({"groundedness": 0.0} if index is not None else {})}
    template, retrieval = "prompt.yaml", ""
    if index is not None:
        retrieval = _RETRIEVAL.format(index=json.dumps(str(Path(index).expanduser().resolve())), k=int(k))
        template = "answer-with-citations@1"
    adapter_text = json.dumps(str(Path(adapter).expanduser().resolve())) if adapter is not None else "null"
    spec_text = _SPEC.format(
        folder=folder, id=copilot_id, title=json.dumps(title), model=model, template=template, adapter=adapter_text,
        retrieval=retrieval, thresholds=_flow(thresholds), **{**DEFAULT_SLO, **dict(slo or {})},
    )  # fmt: skip
    suite: list[Mapping[str, Any]] = (
        list(questions) if questions is not None else [{"question": q, "reference": a} for q, a in SAMPLE_QUESTIONS]
    )
    try:
        (folder / "eval").mkdir(parents=True, exist_ok=True)
        if index is None:
            (folder / "prompt.yaml").write_text(_TEMPLATE.format(id=copilot_id, title=title), encoding="utf-8")
        (folder / SPEC_NAME).write_text(spec_text, encoding="utf-8")
        (folder / "rubric.yaml").write_text(_RUBRIC.format(id=copilot_id, title=title), encoding="utf-8")
        (folder / "eval" / "questions.jsonl").write_text(_suite_lines(suite), encoding="utf-8")
        spec = load_spec(folder)
        check_references(spec)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # no half-written copilot left behind
        raise
    return spec


def _empty_folder(copilot_id: str, out: str | Path | None) -> Path:
    """The new copilot's folder (``./<id>`` by default), checked: a valid id, and empty or absent."""
    if not _ID.match(copilot_id):
        raise ValidationError(
            f"copilot id '{copilot_id}' must be lower-case letters, digits, '-' or '_'",
            field="id",
            hint="e.g. it-helpdesk",
        )
    folder = Path(out if out is not None else copilot_id).expanduser()
    if folder.exists() and any(folder.iterdir()):
        raise ValidationError(
            f"'{folder}' already exists and is not empty", file=folder, hint="pick another folder with --out"
        )
    return folder


def _flow(mapping: Mapping[str, float]) -> str:
    """A one-line YAML mapping of names to numbers (``{rubric_pass_rate: 0.5}``)."""
    return "{" + ", ".join(f"{name}: {json.dumps(value)}" for name, value in mapping.items()) + "}"


def _suite_lines(suite: list[Mapping[str, Any]]) -> str:
    """The evaluation suite as JSON lines, each with an id (``q1``, ``q2``... unless it has one)."""
    lines = []
    for i, item in enumerate(suite, 1):
        row = {"id": str(item.get("id") or f"q{i}"), "question": item.get("question"),
               "reference": item.get("reference")}  # fmt: skip
        if item.get("relevant"):
            row["relevant"] = list(item["relevant"])
        lines.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(lines) + "\n"
