"""The copilot spec and its CLI: scaffold, load, errors naming file, line and field; preparing a chat turn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from copilot_helpers import line_of, set_field

from workbench.cli import main
from workbench.copilots import Copilot, CopilotSpec, check_references, find_specs, load_spec, new_copilot
from workbench.errors import NotFoundError, ValidationError


def test_new_scaffold_loads_with_absolute_paths_and_a_stable_digest(helpdesk: Path) -> None:
    spec = load_spec(helpdesk)
    check_references(spec)
    assert spec.ref == "it-helpdesk@1"
    assert spec.model.name == "workbench-tiny"
    assert spec.evaluation is not None and spec.evaluation.questions.is_absolute()
    assert spec.evaluation.questions == (helpdesk / "eval" / "questions.jsonl").resolve()
    assert Path(spec.prompt.template or "").is_absolute()
    assert spec.digest() == load_spec(helpdesk / "copilot.yaml").digest()
    assert spec.served_name == "it-helpdesk"
    set_field(helpdesk / "copilot.yaml", "title:", "title: Renamed #")
    assert load_spec(helpdesk).digest() != spec.digest()


def test_new_refuses_a_bad_id_and_a_folder_with_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="lower-case"):
        new_copilot("Bad Id", tmp_path / "x")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "note.txt").write_text("mine")
    with pytest.raises(ValidationError, match="not empty"):
        new_copilot("ok", tmp_path / "busy")


def test_new_writes_the_given_adapter_suite_gates_and_slo(tmp_path: Path) -> None:
    from workbench.copilots.evaluation import load_suite

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    suite = [{"question": "How do I sort a list?", "reference": "Use sorted().", "relevant": ["sorting"]},
             {"id": "own", "question": "What is a deque?", "reference": "A double-ended queue."}]  # fmt: skip
    spec = new_copilot("desk", tmp_path / "desk", model="workbench-tiny", adapter=adapter, questions=suite,
                       thresholds={"rubric_pass_rate": 0.4, "groundedness": 0.5}, slo={"p95_latency_s": 3.5})  # fmt: skip
    assert spec.model.adapter == adapter.resolve()
    assert spec.evaluation is not None and spec.evaluation.thresholds.rubric_pass_rate == 0.4
    assert spec.evaluation.thresholds.groundedness == 0.5
    assert spec.slo.p95_latency_s == 3.5 and spec.slo.guardrail_violation_rate == 0.1  # the rest keep defaults
    written = load_suite(tmp_path / "desk" / "eval" / "questions.jsonl")
    assert [(q.id, q.question) for q in written] == [("q1", "How do I sort a list?"), ("own", "What is a deque?")]
    assert list(written[0].relevant) == ["sorting"]


def test_new_with_a_bad_gate_names_the_field_and_leaves_no_folder(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        new_copilot("desk", tmp_path / "desk", model="workbench-tiny", thresholds={"rubric_pas_rate": 0.4})
    assert "rubric_pas_rate" in str(caught.value)
    assert not (tmp_path / "desk").exists()


@pytest.mark.parametrize(
    ("old", "new", "needle", "field", "message"),
    [
        ("bits: null", "bits: 5", "bits: 5", "model.bits", "Input should be 4, 8, 16 or 32"),
        ("description:", "colour: blue\ndescription:", "colour: blue", "colour", "unknown field 'colour'"),
        ("template: prompt.yaml", "template: summarise", "template: summarise", "prompt.template",
         "not pinned to a version"),
        ("canary_share: 0.1", "canary_share: 1.5", "canary_share", "serving.canary_share", "less than or equal"),
        ("version: 1", "version: 'v 1'", "version:", "version", "may hold only"),
    ],
)  # fmt: skip
def test_schema_errors_name_file_line_and_field(
    helpdesk: Path, old: str, new: str, needle: str, field: str, message: str
) -> None:
    spec_file = helpdesk / "copilot.yaml"
    set_field(spec_file, old, new)
    with pytest.raises(ValidationError) as caught:
        load_spec(spec_file)
    err = caught.value
    assert err.file == str(spec_file)
    assert err.line == line_of(spec_file, needle)
    assert err.field == field
    assert message in err.message
    assert err.hint


def test_a_missing_model_is_reported_at_the_model_section(helpdesk: Path) -> None:
    spec_file = helpdesk / "copilot.yaml"
    set_field(spec_file, "  name: workbench-tiny", "  bits: 4")
    set_field(spec_file, "  bits: null", "")
    with pytest.raises(ValidationError) as caught:
        load_spec(spec_file)
    assert caught.value.field == "model.name"
    assert caught.value.line == line_of(spec_file, "model:")
    assert "add the required field 'name'" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("questions: eval/questions.jsonl", "questions: eval/missing.jsonl", "evaluation.questions", "does not exist"),
        ("rubric: rubric.yaml", "rubric: no-such-rubric", "evaluation.rubric", "does not load"),
        ("template: prompt.yaml", "template: critique@1", "prompt.variables", "'answer', which nothing fills"),
        ("template: prompt.yaml", "template: critique@1\n  question_variable: query", "prompt.question_variable",
         "has no variable 'query'"),
        ("template: prompt.yaml", "template: prompt.yaml\n  variables: {tone: calm}", "prompt.variables.tone",
         "has no variable 'tone'"),
        ("guardrails:\n  policy: null", "guardrails:\n  policy: team-policy.yaml", "guardrails.policy",
         "does not exist"),
    ],
)  # fmt: skip
def test_reference_errors_point_at_the_field_that_names_them(
    helpdesk: Path, old: str, new: str, field: str, message: str
) -> None:
    spec_file = helpdesk / "copilot.yaml"
    set_field(spec_file, old, new)
    spec = load_spec(spec_file)
    with pytest.raises(ValidationError) as caught:
        check_references(spec)
    assert caught.value.field == field
    assert message in caught.value.message
    assert caught.value.line is not None and caught.value.file == str(spec_file)


def test_retrieval_needs_a_template_with_a_place_for_passages(helpdesk: Path, docs_index: Path) -> None:
    spec_file = helpdesk / "copilot.yaml"
    set_field(spec_file, "guardrails:", f"retrieval: {{index: {docs_index}}}\nguardrails:")
    with pytest.raises(ValidationError, match="no variable for the retrieved passages") as caught:
        check_references(load_spec(spec_file))
    assert caught.value.field == "prompt.context_variable"


def test_missing_spec_and_non_mapping_spec(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="copilot new"):
        load_spec(tmp_path / "nowhere")
    bad = tmp_path / "copilot.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ValidationError, match="must be a mapping"):
        load_spec(bad)
    bad.write_text("id: x\n  version: : 1\n")
    with pytest.raises(ValidationError, match="not valid YAML") as caught:
        load_spec(bad)
    assert caught.value.line == 2


def test_cli_new_validate_list_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["copilot", "new", "desk", "--out", str(tmp_path / "desk"), "--model", "workbench-tiny"]) == 0
    assert "created desk@1" in capsys.readouterr().out
    assert main(["copilot", "validate", str(tmp_path / "desk"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["ok"] is True
    set_field(tmp_path / "desk" / "copilot.yaml", "max_batch_size: 16", "max_batch_size: 0")
    assert main(["copilot", "validate", str(tmp_path / "desk")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'desk' / 'copilot.yaml'}:{line_of(tmp_path / 'desk' / 'copilot.yaml', 'max_batch_size')}" in err
    assert "serving.max_batch_size" in err and "hint:" in err
    set_field(tmp_path / "desk" / "copilot.yaml", "max_batch_size: 0", "max_batch_size: 8")
    assert main(["copilot", "list", str(tmp_path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["specs"] == [str((tmp_path / "desk" / "copilot.yaml").resolve())]
    assert main(["copilot", "show", str(tmp_path / "desk"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["spec"]["serving"]["max_batch_size"] == 8 and shown["stage"] is None
    for sub in ("new", "validate", "list", "show", "eval", "promote", "rollback", "serve", "export"):
        assert main(["copilot", sub, "--help"]) == 0
    out = capsys.readouterr().out
    assert "refused, with the failing gate named" in out and "OpenAI-compatible endpoint" in out


def test_find_specs_looks_two_levels_down(tmp_path: Path, helpdesk: Path) -> None:
    assert find_specs([tmp_path]) == [(helpdesk / "copilot.yaml").resolve()]
    assert find_specs([tmp_path / "empty"]) == []


def test_prepare_keeps_history_and_puts_the_template_system_first(helpdesk: Path, tiny_model: object) -> None:
    copilot = Copilot(helpdesk, backend=tiny_model)  # type: ignore[arg-type]
    turn = copilot.prepare(
        [
            {"role": "system", "content": "Talk like a pirate."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "How do I add a printer?"},
        ]
    )
    assert turn.template == "it-helpdesk-answer@1"
    assert [m["role"] for m in turn.messages] == ["system", "user", "assistant", "user"]
    assert turn.messages[0]["content"].startswith("You are the company help desk")  # the copilot's, not the client's
    assert turn.messages[-1]["content"] == "How do I add a printer?"
    assert turn.params == {"temperature": 0.0, "max_new_tokens": 64}
    with pytest.raises(ValidationError, match="no user message"):
        copilot.prepare([{"role": "assistant", "content": "hi"}])


def test_a_copilot_without_a_template_keeps_the_client_system_prompt(tiny_model: object) -> None:
    spec = CopilotSpec.model_validate({"id": "bare", "version": 1, "model": {"name": "workbench-tiny"}})
    turn = Copilot(spec, backend=tiny_model).prepare(  # type: ignore[arg-type]
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    )
    assert turn.messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert turn.template is None


def test_retrieving_copilot_numbers_passages_and_answers_through_the_guard(
    tmp_path: Path, docs_index: Path, tiny_model: object
) -> None:
    spec = new_copilot("rag-desk", tmp_path / "rag-desk", model="workbench-tiny", index=docs_index)
    assert spec.retrieval is not None and spec.prompt.template == "answer-with-citations@1"
    copilot = Copilot(spec, backend=tiny_model)  # type: ignore[arg-type]
    turn = copilot.prepare("How do I reset a forgotten password? Mail me at ana@example.com")
    assert turn.sources[0] == "accounts/passwords.md"
    assert "[1] # Passwords" in turn.messages[-1]["content"]
    answer = copilot.answer("How do I reset a forgotten password? Mail me at ana@example.com", turn=turn)
    assert "[EMAIL]" in answer.result.messages[-1]["content"]  # redacted before the model saw it
    assert "ana@example.com" not in json.dumps(answer.result.to_dict())
